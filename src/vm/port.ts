import type { Readable, Writable } from "node:stream";

/**
 * ContainerRuntime: where switchboards and project VMs run. The process runtime (development: local child
 * processes) is the first; Docker via dockerode comes with the VM Manager. Names are deterministic
 * (`sb-<user id>`, `vm-<project id>`), so a retry after a lost response adopts what exists instead of
 * creating a twin, and a restarted control plane finds the agents that kept running.
 */
export interface ContainerRuntime {
  readonly kind: "process" | "docker";
  /** Creates the agent (and its volume) if missing, starts it if stopped, and waits until it is ready. */
  ensureRunning(spec: AgentSpec): Promise<void>;
  /** Runs the bridge command in the agent; its stdin/stdout carry the bridge protocol. */
  openBridge(name: string): Promise<BridgeStream>;
  stop(name: string): Promise<void>;
  /** Removes the agent; its volume (conversation history) too only when asked. */
  remove(name: string, options?: { volume?: boolean }): Promise<void>;
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
}

export interface AgentInfo {
  readonly name: string;
  readonly kind: "switchboard" | "project";
  readonly state: "running" | "stopped";
  readonly labels: Readonly<Record<string, string>>;
}

export interface BridgeStream {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Resolves when the bridge ends (either side closed). */
  readonly closed: Promise<void>;
  close(): void;
}
