import { randomUUID } from "node:crypto";
import type { Logger } from "../shared/logger.ts";
import type { HostedContainer } from "./docker/host.ts";
import type { VmManager } from "./manager.ts";
import { STATE_DEADLINES_MS, type VmState } from "./records.ts";

export interface SupervisorOptions {
  readonly manager: VmManager;
  readonly logger: Logger;
  /** A switchboard idle this long is removed (its volume stays). */
  readonly switchboardIdleMs: number;
  /** A project VM idle this long is stopped. */
  readonly projectIdleMs: number;
  /**
   * Agents that must not be put to sleep now: those with a turn in progress (which covers a pending
   * permission request: it belongs to a running turn). Asked again for each agent, under its lock.
   */
  readonly busyAgents: () => Promise<ReadonlySet<string>>;
  /**
   * True when no other process can be managing the same agents (SQLite: one process by design). Then a
   * transitional state found at start can only be a crash's leftover and is repaired at once; otherwise
   * it is given its deadline, since another manager may be in the middle of it.
   */
  readonly singleProcess: boolean;
  /** How often the idle policy runs. */
  readonly sweepMs?: number;
  /** How often hosts are pinged. */
  readonly healthMs?: number;
  /** How often the store is compared with the engines (also at start and when a host comes back). */
  readonly reconcileMs?: number;
  /** Overrides of the transitional states' deadlines (tests). */
  readonly deadlinesMs?: Partial<Record<VmState, number>>;
  readonly now?: () => number;
}

export interface ReconcileReport {
  readonly adopted: string[];
  readonly repaired: string[];
  readonly orphansRemoved: string[];
}

/** Agents put to sleep at once by one sweep (each stop may wait out a grace period). */
const SLEEP_CONCURRENCY = 4;
const LEASE = "vm-supervisor";

/**
 * Keeps the VM Manager honest over time: the idle policy (switchboards removed, project VMs stopped), host
 * health checks, and the reconciler that compares the store with every engine by label: it adopts what
 * runs, repairs states stuck past their deadline (a manager killed mid-create), notices containers that
 * died on their own, and removes stopped containers of ours that no record knows.
 *
 * Every process checks host health (each needs its own view); the idle policy and the reconciler run in
 * one process of the deployment at a time, the holder of the `vm-supervisor` lease.
 */
export class VmSupervisor {
  readonly #o: SupervisorOptions;
  readonly #now: () => number;
  readonly #id = randomUUID();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    options.manager.onHostRecovered((host) => {
      this.#track(
        this.reconcile([host]).catch((error: unknown) =>
          options.logger.error({ err: error, host }, "reconcile of a recovered host failed"),
        ),
      );
    });
  }

  /** Checks the hosts and reconciles once, then keeps doing both (and the idle policy) on timers. */
  async start(): Promise<void> {
    await this.checkHosts();
    await this.#checkImages();
    if (await this.#lead()) {
      await this.reconcile(undefined, { afterRestart: this.#o.singleProcess }).catch((error: unknown) =>
        this.#o.logger.error({ err: error }, "reconcile at start failed"),
      );
    }
    this.#every(this.#o.healthMs ?? 10_000, "host health check", () => this.checkHosts());
    this.#every(this.#o.sweepMs ?? 30_000, "idle sweep", async () => {
      if (await this.#lead()) await this.sweep();
    });
    this.#every(this.#o.reconcileMs ?? 5 * 60_000, "reconcile", async () => {
      if (await this.#lead()) await this.reconcile();
    });
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Pings every host (a host that comes back is reconciled, through the manager's recovery event). */
  async checkHosts(): Promise<void> {
    const { manager } = this.#o;
    await Promise.all(manager.hosts.map(async (host) => manager.setHostUp(host.name, await host.ping())));
  }

  /** The idle policy; returns the agents it put to sleep. */
  async sweep(): Promise<string[]> {
    const { manager, logger } = this.#o;
    const now = this.#now();
    const limitOf = (kind: "switchboard" | "project") =>
      kind === "switchboard" ? this.#o.switchboardIdleMs : this.#o.projectIdleMs;
    const candidates = (await manager.records.list()).filter(
      (r) => r.state === "running" && manager.isHostUp(r.host) && now - r.lastActiveAt >= limitOf(r.kind),
    );
    const slept: string[] = [];
    const isBusy = async (name: string) => (await this.#o.busyAgents()).has(name);
    for (let i = 0; i < candidates.length; i += SLEEP_CONCURRENCY) {
      await Promise.all(
        candidates.slice(i, i + SLEEP_CONCURRENCY).map(async (record) => {
          try {
            if (await manager.sleepIfIdle(record.name, limitOf(record.kind), isBusy)) slept.push(record.name);
          } catch (error) {
            logger.warn({ err: error, agent: record.name }, "could not put an idle agent to sleep");
          }
        }),
      );
    }
    if (slept.length > 0) logger.info({ agents: slept }, "idle agents put to sleep");
    return slept;
  }

  /** Compares the store with the engines (all reachable hosts, or those named). */
  async reconcile(
    only?: readonly string[],
    options: { afterRestart?: boolean } = {},
  ): Promise<ReconcileReport> {
    const { manager, logger } = this.#o;
    const report: ReconcileReport = { adopted: [], repaired: [], orphansRemoved: [] };
    for (const host of manager.hosts) {
      if (only && !only.includes(host.name)) continue;
      if (!manager.isHostUp(host.name)) continue;
      const containers = new Map((await host.containers()).map((c) => [c.agent, c]));
      const records = (await manager.records.list()).filter((r) => r.host === host.name);
      for (const record of records) {
        containers.delete(record.name);
        if (await this.#repair(record.name, host.name, options.afterRestart ?? false)) {
          report.repaired.push(record.name);
        }
      }
      for (const container of containers.values()) {
        const outcome = await this.#unknown(container, host.name);
        if (outcome === "adopted") report.adopted.push(container.agent);
        if (outcome === "removed") report.orphansRemoved.push(`${host.name}/${container.agent}`);
      }
    }
    if (report.adopted.length + report.repaired.length + report.orphansRemoved.length > 0) {
      logger.info(report, "reconciled the store with the Docker hosts");
    }
    return report;
  }

  /**
   * Brings one record in line with its container, under the agent's lock and from a fresh read (the
   * manager may have moved it on since the listing); returns whether anything changed.
   */
  #repair(name: string, hostName: string, afterRestart: boolean): Promise<boolean> {
    const { manager } = this.#o;
    return manager.exclusive(name, async () => {
      const record = await manager.records.get(name);
      const host = manager.hosts.find((h) => h.name === hostName);
      if (!record || record.host !== hostName || !host) return false;
      const running = (await host.inspect(name))?.running ?? false;
      const deadline = STATE_DEADLINES_MS[record.state];
      const stuck =
        deadline !== undefined &&
        (afterRestart || this.#now() - record.stateSince > (this.#o.deadlinesMs?.[record.state] ?? deadline));
      const { records } = manager;
      if (stuck) {
        // Whatever was in progress died with its manager: the engine tells where it got to.
        return records.transition(name, [record.state], running ? "running" : "stopped", {
          reason: running ? null : "interrupted",
          error: `was ${record.state} for too long; found ${running ? "running" : "not running"}`,
        });
      }
      if (record.state === "running" && !running) {
        return records.transition(name, ["running"], "stopped", { reason: "crashed" });
      }
      if ((record.state === "stopped" || record.state === "error") && running) {
        return records.transition(name, [record.state], "running", { reason: null });
      }
      return false;
    });
  }

  /**
   * A container of ours that no record on its host knows. Running and unknown everywhere: adopted (the
   * record was lost; the agent works). Stopped: removed (its volume stays). Running but recorded on
   * another host: left alone and reported, since removing a working agent is for a person to decide.
   */
  #unknown(container: HostedContainer, hostName: string): Promise<"adopted" | "removed" | "left"> {
    const { manager, logger } = this.#o;
    return manager.exclusive(container.agent, async () => {
      const record = await manager.records.get(container.agent);
      const host = manager.hosts.find((h) => h.name === hostName);
      if (!host || record?.host === hostName) return "left"; // placed here since the listing
      const running = (await host.inspect(container.agent))?.running ?? false;
      if (running && !record) {
        await manager.records.create({
          name: container.agent,
          kind: container.kind,
          userId: container.labels["cloudclaude.user"] ?? "",
          host: hostName,
        });
        await manager.records.transition(container.agent, ["creating"], "running");
        return "adopted";
      }
      if (running) {
        logger.error(
          { agent: container.agent, host: hostName, recordedOn: record?.host },
          "an agent runs on a host other than the one recorded; left running for an operator to resolve",
        );
        return "left";
      }
      await host.removeContainer(container.agent);
      return "removed";
    });
  }

  /** Says at start, with the fix, on which hosts the agent image is missing (agents there cannot start). */
  async #checkImages(): Promise<void> {
    const { manager, logger } = this.#o;
    for (const host of manager.hosts.filter((h) => manager.isHostUp(h.name))) {
      const present = await host.hasImage().catch(() => true); // an engine error is the health check's to report
      if (!present) {
        logger.error(
          { host: host.name },
          "the agent image is missing on this Docker host: run `cloudclaude images build --offline` there " +
            "(or set CLOUDCLAUDE_AGENT_IMAGE to an image it has)",
        );
      }
    }
  }

  async #lead(): Promise<boolean> {
    const ttl = 3 * Math.max(this.#o.sweepMs ?? 30_000, this.#o.healthMs ?? 10_000);
    return this.#o.manager.records.holdLease(LEASE, this.#id, ttl);
  }

  /** Runs `task` every `ms`, skipping a tick while the previous run is still going. */
  #every(ms: number, what: string, task: () => Promise<unknown>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.#track(
        task()
          .catch((error: unknown) => this.#o.logger.error({ err: error }, `${what} failed`))
          .finally(() => {
            running = false;
          }),
      );
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #track(work: Promise<unknown>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }
}
