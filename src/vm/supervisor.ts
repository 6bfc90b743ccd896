import type { Logger } from "../shared/logger.ts";
import type { VmManager } from "./manager.ts";
import { STATE_DEADLINES_MS, type VmRecord, type VmState } from "./records.ts";

export interface SupervisorOptions {
  readonly manager: VmManager;
  readonly logger: Logger;
  /** A switchboard idle this long is removed (its volume stays). */
  readonly switchboardIdleMs: number;
  /** A project VM idle this long is stopped. */
  readonly projectIdleMs: number;
  /**
   * Agents that must not be put to sleep now: those with a turn in progress (which covers a pending
   * permission request: it belongs to a running turn).
   */
  readonly busyAgents: () => Promise<ReadonlySet<string>>;
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

/**
 * Keeps the VM Manager honest over time: the idle policy (switchboards removed, project VMs stopped), host
 * health checks, and the reconciler that compares the store with every engine by label: it adopts what
 * runs, repairs states stuck past their deadline (a manager killed mid-create), notices containers that
 * died on their own, and removes stopped containers of ours that no record knows.
 */
export class VmSupervisor {
  readonly #o: SupervisorOptions;
  readonly #now: () => number;
  readonly #timers: NodeJS.Timeout[] = [];
  #running: Promise<unknown> = Promise.resolve();

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Checks the hosts and reconciles once, then keeps doing both (and the idle policy) on timers. */
  async start(): Promise<void> {
    await this.checkHosts();
    // Nothing of this process is in flight yet: a transitional state now is one a crash left behind.
    await this.reconcile(undefined, { afterRestart: true }).catch((error: unknown) =>
      this.#o.logger.error({ err: error }, "reconcile at start failed"),
    );
    const every = (ms: number, task: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        // One task at a time: a slow engine must not pile up overlapping sweeps.
        this.#running = this.#running
          .then(task)
          .catch((error: unknown) => this.#o.logger.error({ err: error }, `${what} failed`));
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#o.healthMs ?? 10_000, () => this.checkHosts(), "host health check");
    every(this.#o.sweepMs ?? 30_000, () => this.sweep(), "idle sweep");
    every(this.#o.reconcileMs ?? 5 * 60_000, () => this.reconcile(), "reconcile");
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    await this.#running.catch(() => {});
  }

  /** Pings every host; a host that comes back is reconciled at once. */
  async checkHosts(): Promise<void> {
    const { manager } = this.#o;
    await Promise.all(
      manager.hosts.map(async (host) => {
        const up = await host.ping();
        if (manager.setHostUp(host.name, up) && up) await this.reconcile([host.name]);
      }),
    );
  }

  /** The idle policy; returns the agents it put to sleep. */
  async sweep(): Promise<string[]> {
    const { manager, logger } = this.#o;
    const now = this.#now();
    const idle = (await manager.records.list()).filter((r) => {
      if (r.state !== "running" || !manager.isHostUp(r.host)) return false;
      const limit = r.kind === "switchboard" ? this.#o.switchboardIdleMs : this.#o.projectIdleMs;
      return now - r.lastActiveAt >= limit;
    });
    if (idle.length === 0) return [];
    const busy = await this.#o.busyAgents();
    const slept: string[] = [];
    for (const record of idle) {
      if (busy.has(record.name)) continue;
      try {
        if (record.kind === "switchboard") await manager.remove(record.name, { reason: "idle" });
        else await manager.stop(record.name, { reason: "idle" });
        slept.push(record.name);
      } catch (error) {
        logger.warn({ err: error, agent: record.name }, "could not put an idle agent to sleep");
      }
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
    const records = await manager.records.list();
    for (const host of manager.hosts) {
      if (only && !only.includes(host.name)) continue;
      if (!manager.isHostUp(host.name)) continue;
      const containers = new Map((await host.containers()).map((c) => [c.agent, c]));
      for (const record of records.filter((r) => r.host === host.name)) {
        const container = containers.get(record.name);
        containers.delete(record.name);
        const fixed = await this.#repair(record, container?.running, options.afterRestart ?? false);
        if (fixed) report.repaired.push(record.name);
      }
      // Containers of ours that no record knows.
      for (const container of containers.values()) {
        const known = records.find((r) => r.name === container.agent);
        if (container.running && !known) {
          await manager.records.create({
            name: container.agent,
            kind: container.kind,
            userId: container.labels["cloudclaude.user"] ?? "",
            host: host.name,
          });
          await manager.records.transition(container.agent, ["creating"], "running");
          report.adopted.push(container.agent);
        } else {
          // Stopped and unknown, or a twin on another host than its record: ours, and of no use.
          await host.removeContainer(container.agent);
          report.orphansRemoved.push(`${host.name}/${container.agent}`);
        }
      }
    }
    if (report.adopted.length + report.repaired.length + report.orphansRemoved.length > 0) {
      logger.info(report, "reconciled the store with the Docker hosts");
    }
    return report;
  }

  /** Brings one record in line with its container; returns whether anything changed. */
  async #repair(record: VmRecord, running: boolean | undefined, afterRestart: boolean): Promise<boolean> {
    const { records } = this.#o.manager;
    const deadline = afterRestart
      ? 0
      : (this.#o.deadlinesMs?.[record.state] ?? STATE_DEADLINES_MS[record.state]);
    const stuck =
      deadline !== undefined &&
      STATE_DEADLINES_MS[record.state] !== undefined &&
      this.#now() - record.stateSince >= deadline;
    if (stuck) {
      // Whatever was in progress died with its manager: the engine tells where it got to.
      const to = running ? "running" : "stopped";
      return records.transition(record.name, [record.state], to, {
        reason: running ? null : "interrupted",
        error: `was ${record.state} for too long; found ${running ? "running" : "not running"}`,
      });
    }
    if (record.state === "running" && !running) {
      return records.transition(record.name, ["running"], "stopped", { reason: "crashed" });
    }
    if ((record.state === "stopped" || record.state === "error") && running) {
      return records.transition(record.name, [record.state], "running", { reason: null });
    }
    return false;
  }
}
