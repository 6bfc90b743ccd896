/**
 * ContainerRuntime: the engine that runs switchboards and project VMs. Docker via dockerode is the real one
 * (VM Manager issue); a local-process runtime serves development. Names are deterministic so that a retry
 * after a lost response adopts what exists instead of creating a twin.
 */
export interface ContainerRuntime {
  readonly kind: "docker" | "process";
  /** Creates the container and its volume if missing, adopts them if present. */
  ensure(spec: ContainerSpec): Promise<ContainerInfo>;
  start(name: string): Promise<void>;
  stop(name: string, options?: { timeoutMs?: number }): Promise<void>;
  /** Removes the container; the volume too only when asked. */
  remove(name: string, options?: { volume?: boolean }): Promise<void>;
  inspect(name: string): Promise<ContainerInfo | undefined>;
  /** Everything we created, found by label, for the reconciler. */
  list(): Promise<ContainerInfo[]>;
  /** Runs the bridge command inside the container; its stdin/stdout carry the bridge protocol. */
  exec(name: string, command: readonly string[]): Promise<ExecStream>;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly volume: string;
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly limits: { memoryBytes: number; cpus: number; pids: number };
}

export interface ContainerInfo {
  readonly name: string;
  readonly state: "created" | "running" | "stopped" | "missing";
  readonly labels: Readonly<Record<string, string>>;
}

export interface ExecStream {
  readonly stdin: NodeJS.WritableStream;
  readonly stdout: NodeJS.ReadableStream;
  /** Resolves with the exit code when the command ends. */
  readonly exited: Promise<number>;
  kill(): Promise<void>;
}
