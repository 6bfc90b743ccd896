import type { Readable, Writable } from "node:stream";

/**
 * ContainerRuntime: where switchboards and project VMs run. The process runtime (development: local child
 * processes, development only) and Docker through the VM Manager (`manager.ts`, one or more engines). Names are deterministic
 * (`sb-<user id>`, `vm-<project id>`), so a retry after a lost response adopts what exists instead of
 * creating a twin, and a restarted control plane finds the agents that kept running.
 */
export interface ContainerRuntime {
  readonly kind: "process" | "docker";
  /**
   * Creates the agent (and its volume) if missing and starts it if stopped. With `resume` (a bridge that
   * dropped, reconnecting in the background) an agent that was put to sleep on purpose is left asleep:
   * the call rejects with `AgentAsleepError`, and the next message wakes it.
   */
  ensureRunning(spec: AgentSpec, options?: { resume?: boolean }): Promise<void>;
  /** Runs the bridge command in the agent; its stdin/stdout carry the bridge protocol. */
  openBridge(name: string): Promise<BridgeStream>;
  stop(name: string, options?: { reason?: string }): Promise<void>;
  /** Removes the agent; its volume (conversation history) too only when asked. */
  remove(name: string, options?: { volume?: boolean; reason?: string }): Promise<void>;
  /**
   * The agent did something (a turn started or ended): it is not idle. Resolves with whether it is meant
   * to be awake (false once the idle policy put it to sleep, so a caller holding a bridge knows to wake it).
   */
  markActive(name: string): Promise<boolean>;
  inspect(name: string): Promise<AgentInfo | undefined>;
  list(): Promise<AgentInfo[]>;
  /** Stops everything this runtime started in this process (shutdown). Agents survive a crash by design. */
  close(): Promise<void>;
}

export interface AgentSpec {
  readonly name: string;
  readonly kind: "switchboard" | "project";
  /** Environment of the agent: its owner's credential and settings; never the control plane's secrets. */
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The image this agent runs: a project's environment image (`<registry>/<user>/<project>@sha256:…`, pulled
   * on the agent's host when missing there, or a local tag). Default: the configured agent image. The
   * process runtime ignores it.
   */
  readonly image?: string;
}

export interface AgentInfo {
  readonly name: string;
  readonly kind: "switchboard" | "project";
  /** The lifecycle state; `unavailable` when the host holding it does not answer. */
  readonly state:
    | "creating"
    | "starting"
    | "running"
    | "stopping"
    | "stopped"
    | "removing"
    | "error"
    | "unavailable";
  readonly labels: Readonly<Record<string, string>>;
  /** The pool host holding it (Docker runtime). */
  readonly host?: string;
  /** When it entered `state` (ms since the epoch), where known. */
  readonly since?: number;
  /** Why it last stopped (`idle`, `manual`, `crashed`, …), where known. */
  readonly reason?: string | null;
  readonly error?: string | null;
  readonly lastActiveAt?: number;
}

/** The agent was put to sleep on purpose; a background reconnect must not wake it. */
export class AgentAsleepError extends Error {
  constructor(name: string) {
    super(`agent ${name} is asleep`);
    this.name = "AgentAsleepError";
  }
}

/** The host holding the agent (and its volume) does not answer; the agent cannot run elsewhere. */
export class HostUnavailableError extends Error {
  readonly host: string;
  constructor(host: string, detail = "is not answering") {
    super(`Docker host ${host} ${detail}`);
    this.name = "HostUnavailableError";
    this.host = host;
  }
}

export interface BridgeStream {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Resolves when the bridge ends (either side closed). */
  readonly closed: Promise<void>;
  close(): void;
}

/** No host of the pool can take a new agent (all full, or none answering). */
export class NoCapacityError extends Error {
  constructor(detail: string) {
    super(`no Docker host can take a new agent: ${detail}`);
    this.name = "NoCapacityError";
  }
}
