import type { Logger } from "../shared/logger.ts";
import type { DockerHost } from "./docker/host.ts";
import { AGENT_NAME } from "./names.ts";
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

const ALL_STATES: readonly VmState[] = [
  "creating",
  "starting",
  "running",
  "stopping",
  "stopped",
  "removing",
  "error",
];
/** States from which a start (or a wake) proceeds: anything but already running. */
const STARTABLE = ALL_STATES.filter((s) => s !== "running");
/** States in which an agent is (or is becoming) awake, so a stop has something to do. */
const STOPPABLE: readonly VmState[] = ["creating", "starting", "running", "stopping", "error"];

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
 * stays on that host for good (its volume is there), sleeps when idle (`VmSupervisor`) and wakes on the
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
  readonly #now: () => number;
  readonly #recoveryListeners: Array<(host: string) => void> = [];

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

  /** Called whenever a host that was down answers again (from a health check or from a message's ping). */
  onHostRecovered(listener: (host: string) => void): void {
    this.#recoveryListeners.push(listener);
  }

  /** Records what a health check saw; returns whether that changed the host's standing. */
  setHostUp(name: string, up: boolean): boolean {
    const was = !this.#down.has(name);
    if (up) this.#down.delete(name);
    else this.#down.add(name);
    if (was === up) return false;
    const log = this.#options.logger;
    if (up) {
      log.info({ host: name }, "Docker host answers again");
      for (const listener of this.#recoveryListeners) listener(name);
    } else {
      log.error({ host: name }, "Docker host stopped answering; its agents are unavailable");
    }
    return true;
  }

  ensureRunning(spec: AgentSpec, options: { resume?: boolean } = {}): Promise<void> {
    if (!AGENT_NAME.test(spec.name)) {
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
      this.#options.logger.info({ agent: spec.name, host: record.host }, "placing a new agent");
    }
    const { name } = spec;
    const host = await this.#reachableHost(record);
    if (record.state === "running") {
      // Usually a no-op (one inspect); starts a container that died on its own (a crash, an engine restart).
      if ((await this.#engine(host, () => host.ensureStarted(spec))) === "started") {
        this.#options.logger.warn({ agent: name }, "agent had stopped on its own; started it again");
      }
    } else {
      if (resume) throw new AgentAsleepError(name);
      if (!(await this.records.transition(name, STARTABLE, "starting"))) {
        throw new Error(`agent ${name} changed state while being woken; try again`);
      }
      try {
        await this.#engine(host, () => host.ensureStarted(spec));
      } catch (error) {
        await this.records.transition(name, ["starting"], "error", { error: String(error) });
        throw error;
      }
      await this.records.transition(name, ["starting"], "running", { reason: null });
    }
    await this.records.touch(name, this.#now());
  }

  async openBridge(name: string): Promise<BridgeStream> {
    const record = await this.records.get(name);
    if (!record) throw new Error(`agent ${name} does not exist`);
    const host = await this.#reachableHost(record);
    return this.#engine(host, () => host.openBridge(name));
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
      await this.records.transition(name, ALL_STATES, "starting");
      let started: boolean;
      try {
        started = await this.#engine(host, () => host.startExisting(name));
      } catch (error) {
        await this.records.transition(name, ["starting"], "error", { error: String(error) });
        throw error;
      }
      if (!started) {
        await this.records.transition(name, ["starting"], "stopped", { reason: "removed" });
        throw new Error(`${name} has no container right now; its next message creates one`);
      }
      await this.records.transition(name, ["starting"], "running", { reason: null });
      await this.records.touch(name, this.#now());
    });
  }

  async stop(name: string, options: { reason?: string } = {}): Promise<void> {
    await this.#serial(name, () => this.#stopLocked(name, options.reason ?? "manual"));
  }

  /**
   * Removes the container. Without `volume` the record stays (`stopped`), so the agent comes back on the
   * same host with its history; with `volume` everything goes, history included.
   */
  async remove(name: string, options: { volume?: boolean; reason?: string } = {}): Promise<void> {
    await this.#serial(name, () =>
      this.#removeLocked(name, options.volume ?? false, options.reason ?? "manual"),
    );
  }

  /**
   * The idle policy's step for one agent, decided under the agent's lock with fresh facts: it sleeps only
   * if it is still running, still idle for `idleMs`, and `isBusy` (asked now, not before) says no turn is
   * in progress. A message that arrived meanwhile has either touched it first (so it stays awake) or waits
   * for this to finish and wakes it again.
   */
  async sleepIfIdle(
    name: string,
    idleMs: number,
    isBusy: (name: string) => Promise<boolean>,
  ): Promise<boolean> {
    return this.#serial(name, async () => {
      const record = await this.records.get(name);
      if (record?.state !== "running" || !this.isHostUp(record.host)) return false;
      if (this.#now() - record.lastActiveAt < idleMs) return false;
      if (await isBusy(name)) return false;
      if (record.kind === "switchboard") await this.#removeLocked(name, false, "idle");
      else await this.#stopLocked(name, "idle");
      return true;
    });
  }

  /**
   * Activity (a turn starting or ending): keeps the agent from the idle policy. Serialised with the
   * agent's other operations, so it either lands before an idle sleep (which then sees it) or after (and
   * says so). Resolves with whether the agent is meant to be awake.
   */
  markActive(name: string): Promise<boolean> {
    return this.#serial(name, async () => {
      await this.records.touch(name, this.#now());
      return (await this.records.get(name))?.state === "running";
    });
  }

  /** Runs `task` alone among this agent's operations (the reconciler's repairs). */
  exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    return this.#serial(name, task);
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

  async #stopLocked(name: string, reason: string): Promise<void> {
    const record = await this.records.get(name);
    if (!record || !STOPPABLE.includes(record.state)) return; // already asleep
    const host = await this.#reachableHost(record);
    if (!(await this.records.transition(name, STOPPABLE, "stopping"))) return;
    await this.#engine(host, () => host.stop(name));
    await this.records.transition(name, ["stopping"], "stopped", { reason });
    this.#options.logger.info({ agent: name, reason }, "agent stopped");
  }

  async #removeLocked(name: string, volume: boolean, reason: string): Promise<void> {
    const record = await this.records.get(name);
    if (!record) return;
    const host = await this.#reachableHost(record);
    await this.records.transition(name, ALL_STATES, "removing");
    await this.#engine(host, () => host.removeContainer(name));
    if (volume) {
      await this.#engine(host, () => host.removeVolume(name));
      await this.records.delete(name);
    } else {
      await this.records.transition(name, ["removing"], "stopped", { reason });
    }
    this.#options.logger.info({ agent: name, volume, reason }, "agent removed");
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
    // Not a passing outage: nothing but configuration brings it back, so this is no reason to wait.
    if (!host) throw new Error(`Docker host ${record.host} is no longer in CLOUDCLAUDE_DOCKER_HOSTS`);
    if (this.#down.has(host.name)) {
      // Ask again rather than trust an old health check: the host may be back.
      if (!(await host.ping())) throw new HostUnavailableError(host.name);
      this.setHostUp(host.name, true);
    }
    return host;
  }

  /** Runs an engine call; an engine that cannot be reached marks its host down. */
  async #engine<T>(host: DockerHost, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isUnreachable(error)) {
        this.setHostUp(host.name, false);
        throw new HostUnavailableError(host.name);
      }
      throw error;
    }
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

/** Socket-level failures (and our own call timeouts): the engine is not there, not a refusal of the call. */
export function isUnreachable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === "string" &&
      ["ECONNREFUSED", "ENOENT", "ETIMEDOUT", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"].includes(
        code,
      )) ||
    (error as { name?: unknown }).name === "EngineTimeoutError"
  );
}
