import type { Logger } from "../shared/logger.ts";
import type { DockerHost } from "./docker/host.ts";
import {
  AgentAsleepError,
  type AgentInfo,
  type AgentSpec,
  type BridgeStream,
  type ContainerRuntime,
  HostUnavailableError,
  NoCapacityError,
} from "./port.ts";
import type { VmRecord, VmRecords, VmState } from "./records.ts";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** `markActive` writes at most this often per agent. */
const TOUCH_EVERY_MS = 5_000;

export interface VmManagerOptions {
  readonly records: VmRecords;
  readonly hosts: readonly DockerHost[];
  /** Agents a host may hold awake at once; placement skips a full host. */
  readonly capacityPerHost: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The VM Manager: switchboards and project VMs as containers on a pool of Docker hosts. The volume is the
 * truth and the process is disposable: an agent is created on demand on the least loaded host with room,
 * stays on that host for good (its volume is there), sleeps when idle (see `IdlePolicy`) and wakes on the
 * next message with its history intact.
 *
 * Every operation on one agent is serialised in this process, and every state change is a compare-and-set
 * in the store (`VmRecords`), so a crash between steps leaves a transitional state that the reconciler
 * repairs by looking at the engine.
 */
export class VmManager implements ContainerRuntime {
  readonly kind = "docker" as const;
  readonly records: VmRecords;
  readonly #options: VmManagerOptions;
  readonly #hosts: Map<string, DockerHost>;
  readonly #down = new Set<string>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #touched = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: VmManagerOptions) {
    this.#options = options;
    this.records = options.records;
    this.#hosts = new Map(options.hosts.map((h) => [h.name, h]));
    this.#now = options.now ?? Date.now;
  }

  get hosts(): readonly DockerHost[] {
    return [...this.#hosts.values()];
  }

  isHostUp(name: string): boolean {
    return this.#hosts.has(name) && !this.#down.has(name);
  }

  /** Records what a health check saw; returns whether that changed the host's standing. */
  setHostUp(name: string, up: boolean): boolean {
    const was = !this.#down.has(name);
    if (up) this.#down.delete(name);
    else this.#down.add(name);
    if (was !== up) {
      const log = this.#options.logger;
      if (up) log.info({ host: name }, "Docker host answers again");
      else log.error({ host: name }, "Docker host stopped answering; its agents are unavailable");
    }
    return was !== up;
  }

  ensureRunning(spec: AgentSpec, options: { resume?: boolean } = {}): Promise<void> {
    if (!NAME.test(spec.name)) {
      return Promise.reject(new Error(`invalid agent name ${JSON.stringify(spec.name)}`));
    }
    return this.#serial(spec.name, () => this.#ensure(spec, options.resume ?? false));
  }

  async #ensure(spec: AgentSpec, resume: boolean): Promise<void> {
    let record = await this.records.get(spec.name);
    if (!record) {
      if (resume) throw new AgentAsleepError(spec.name);
      const host = await this.#place();
      const userId = spec.labels["cloudclaude.user"] ?? "";
      record = await this.records.create({ name: spec.name, kind: spec.kind, userId, host: host.name });
      this.#options.logger.info({ agent: spec.name, host: host.name }, "placing a new agent");
    }
    const host = await this.#reachableHost(record);
    if (record.state === "running") {
      // Usually a no-op (one inspect); starts a container that died on its own (a crash, an engine restart).
      if ((await host.ensureStarted(spec)) === "started") {
        this.#options.logger.warn({ agent: spec.name }, "agent had stopped on its own; started it again");
      }
    } else {
      if (resume) throw new AgentAsleepError(spec.name);
      const from: VmState[] = ["creating", "starting", "stopping", "stopped", "removing", "error"];
      await this.records.transition(spec.name, from, "starting");
      try {
        await host.ensureStarted(spec);
      } catch (error) {
        await this.records.transition(spec.name, ["starting"], "error", { error: String(error) });
        throw error;
      }
      await this.records.transition(spec.name, ["starting"], "running", { reason: null });
    }
    this.#touched.delete(spec.name);
    this.markActive(spec.name);
  }

  async openBridge(name: string): Promise<BridgeStream> {
    const record = await this.records.get(name);
    if (!record) throw new Error(`agent ${name} does not exist`);
    const host = await this.#reachableHost(record);
    return host.openBridge(name);
  }

  /**
   * Starts an agent's existing container as it is (the CLI's `vm start`, which does not know the owner's
   * environment). An agent without a container is created by its next message instead.
   */
  async start(name: string): Promise<void> {
    await this.#serial(name, async () => {
      const record = await this.records.get(name);
      if (!record) throw new Error(`no agent named ${name}`);
      const host = await this.#reachableHost(record);
      const from: VmState[] = ["creating", "starting", "stopping", "stopped", "removing", "error", "running"];
      await this.records.transition(name, from, "starting");
      if (!(await host.startExisting(name))) {
        await this.records.transition(name, ["starting"], "stopped", { reason: "removed" });
        throw new Error(`${name} has no container right now; its next message creates one`);
      }
      await this.records.transition(name, ["starting"], "running", { reason: null });
      this.markActive(name);
    });
  }

  async stop(name: string, options: { reason?: string } = {}): Promise<void> {
    await this.#serial(name, async () => {
      const record = await this.records.get(name);
      if (!record) return;
      const from: VmState[] = ["creating", "starting", "running", "stopping", "error"];
      if (!(await this.records.transition(name, from, "stopping"))) return; // already asleep
      const host = await this.#reachableHost(record);
      await host.stop(name);
      await this.records.transition(name, ["stopping"], "stopped", { reason: options.reason ?? "manual" });
      this.#options.logger.info({ agent: name, reason: options.reason ?? "manual" }, "agent stopped");
    });
  }

  /**
   * Removes the container. Without `volume` the record stays (`stopped`), so the agent comes back on the
   * same host with its history; with `volume` everything goes, history included.
   */
  async remove(name: string, options: { volume?: boolean; reason?: string } = {}): Promise<void> {
    await this.#serial(name, async () => {
      const record = await this.records.get(name);
      if (!record) return;
      const all: VmState[] = ["creating", "starting", "running", "stopping", "stopped", "removing", "error"];
      await this.records.transition(name, all, "removing");
      const host = await this.#reachableHost(record);
      await host.removeContainer(name);
      if (options.volume) {
        await host.removeVolume(name);
        await this.records.delete(name);
      } else {
        await this.records.transition(name, ["removing"], "stopped", { reason: options.reason ?? "manual" });
      }
      this.#options.logger.info({ agent: name, volume: options.volume ?? false }, "agent removed");
    });
  }

  markActive(name: string): void {
    const now = this.#now();
    if (now - (this.#touched.get(name) ?? 0) < TOUCH_EVERY_MS) return;
    this.#touched.set(name, now);
    this.records.touch(name, now).catch((error: unknown) => {
      this.#touched.delete(name);
      this.#options.logger.warn({ err: error, agent: name }, "could not record agent activity");
    });
  }

  async inspect(name: string): Promise<AgentInfo | undefined> {
    const record = await this.records.get(name);
    return record && this.#info(record);
  }

  async list(): Promise<AgentInfo[]> {
    return (await this.records.list()).map((r) => this.#info(r));
  }

  async close(): Promise<void> {
    // Agents keep running without us; the bridges are closed by their connections.
    await Promise.allSettled([...this.#locks.values()]);
  }

  #info(record: VmRecord): AgentInfo {
    return {
      name: record.name,
      kind: record.kind,
      state: this.isHostUp(record.host) ? record.state : "unavailable",
      labels: { "cloudclaude.user": record.userId },
      host: record.host,
      since: record.stateSince,
      reason: record.reason,
      error: record.error,
      lastActiveAt: record.lastActiveAt,
    };
  }

  /** The least loaded reachable host with room. */
  async #place(): Promise<DockerHost> {
    const load = await this.records.loadByHost();
    const candidates = this.hosts
      .filter((h) => this.isHostUp(h.name))
      .map((h) => ({ host: h, load: load.get(h.name) ?? 0 }))
      .filter((c) => c.load < this.#options.capacityPerHost)
      .sort((a, b) => a.load - b.load);
    const best = candidates[0];
    if (!best) {
      const up = this.hosts.filter((h) => this.isHostUp(h.name)).length;
      throw new NoCapacityError(
        up === 0
          ? "none is answering"
          : `all ${up} reachable hosts are full (${this.#options.capacityPerHost} each)`,
      );
    }
    return best.host;
  }

  async #reachableHost(record: VmRecord): Promise<DockerHost> {
    const host = this.#hosts.get(record.host);
    if (!host) throw new HostUnavailableError(record.host, "is no longer in CLOUDCLAUDE_DOCKER_HOSTS");
    if (this.#down.has(host.name)) {
      // Ask again rather than trust an old health check: the host may be back.
      if (!(await host.ping())) throw new HostUnavailableError(host.name);
      this.setHostUp(host.name, true);
    }
    return host;
  }

  /** Runs `task` after every earlier task on the same agent (in this process) has settled. */
  #serial<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => {});
    this.#locks.set(name, settled);
    void settled.then(() => {
      if (this.#locks.get(name) === settled) this.#locks.delete(name);
    });
    return run;
  }
}
