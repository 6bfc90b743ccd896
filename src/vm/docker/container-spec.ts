import { createHash } from "node:crypto";
import type Dockerode from "dockerode";
import type { AgentSpec } from "../port.ts";

/** Where the agent's volume is mounted: its conversations, Claude's config dir and the working tree. */
export const AGENT_HOME = "/home/agent";
/**
 * Node.js's on-disk code cache, on the volume: a daemon (re)starting after a sleep skips compiling the
 * Agent SDK and our sources again, which is most of its start-up time.
 */
export const NODE_COMPILE_CACHE = `${AGENT_HOME}/.cache/node-compile`;
/** How the image runs our executable (`cloudclaude agent …`), without a shell wrapper in between. */
export const AGENT_COMMAND = ["/usr/local/bin/node", "/opt/cloudclaude/bin/cloudclaude.js", "agent"] as const;
/** The unprivileged user of our images (uid/gid 1000, see images/agent/Dockerfile). */
export const AGENT_USER = "1000:1000";
export const LABEL = {
  managed: "cloudclaude.managed",
  instance: "cloudclaude.instance",
  agent: "cloudclaude.agent",
  kind: "cloudclaude.kind",
  specHash: "cloudclaude.spec-hash",
} as const;

export interface ContainerLimits {
  /** Bytes of memory (and memory+swap: no swap). */
  readonly memoryBytes: number;
  readonly nanoCpus: number;
  readonly pids: number;
  /** Size of the /tmp tmpfs in bytes. */
  readonly tmpBytes: number;
}

export interface ContainerSettings {
  readonly instance: string;
  /** The agent image: what an agent whose spec names no image of its own runs. */
  readonly image: string;
  /** Docker network mode: `none` isolates the agent entirely (tests), `bridge` or a named network in production. */
  readonly network: string;
  readonly limits: ContainerLimits;
  /**
   * Login for the registry holding the projects' images, sent (as the engine's X-Registry-Auth) only when
   * pulling an image of that registry (`serveraddress`) onto a host. A secret: never logged, never hashed.
   */
  readonly registryAuth?: RegistryAuth;
}

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  /** The registry's address as in image references, e.g. `registry.example.com:5000`. */
  readonly serveraddress: string;
}

/** The image an agent runs: its spec's own (a project's environment image), else the agent image. */
export function agentImage(spec: AgentSpec, settings: ContainerSettings): string {
  return spec.image ?? settings.image;
}

/**
 * The container of an agent. Hardened by default (DESIGN §3): an unprivileged user, every capability
 * dropped, no privilege escalation, a read-only root filesystem with tmpfs scratch space, memory, CPU and
 * process limits, and never the Docker socket: the only writable places are the agent's volume and /tmp.
 * The bridge needs no port: it runs through the engine's exec API.
 */
export function containerOptions(
  spec: AgentSpec,
  settings: ContainerSettings,
  names: { container: string; volume: string },
): Dockerode.ContainerCreateOptions {
  const labels = agentLabels(spec, settings);
  return {
    name: names.container,
    Image: agentImage(spec, settings),
    User: AGENT_USER,
    WorkingDir: AGENT_HOME,
    Cmd: [...AGENT_COMMAND, "daemon", "--home", AGENT_HOME, "--kind", spec.kind],
    Env: Object.entries({ HOME: AGENT_HOME, NODE_COMPILE_CACHE, ...spec.env }).map(([k, v]) => `${k}=${v}`),
    Labels: { ...labels, [LABEL.specHash]: specHash(spec, settings) },
    StopSignal: "SIGTERM",
    StopTimeout: 10,
    HostConfig: {
      // A tiny init as PID 1 reaps the orphans Claude Code's shell commands leave and forwards signals.
      Init: true,
      NetworkMode: settings.network,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${settings.limits.tmpBytes}` },
      Memory: settings.limits.memoryBytes,
      MemorySwap: settings.limits.memoryBytes,
      NanoCpus: settings.limits.nanoCpus,
      PidsLimit: settings.limits.pids,
      Mounts: [{ Type: "volume", Source: names.volume, Target: AGENT_HOME, ReadOnly: false }],
      // The manager decides when an agent runs (idle policy, wake on message); the engine never restarts one.
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
    },
  };
}

export function agentLabels(spec: AgentSpec, settings: ContainerSettings): Record<string, string> {
  return {
    ...spec.labels,
    [LABEL.managed]: "true",
    [LABEL.instance]: settings.instance,
    [LABEL.agent]: spec.name,
    [LABEL.kind]: spec.kind,
  };
}

/**
 * Bump when `containerOptions` changes in a way existing containers should get (hardening, command,
 * mounts): each is then recreated at its next start.
 */
const OPTIONS_VERSION = 1;

/**
 * A digest of everything that shapes a container (image, environment, limits, network). A stopped
 * container whose digest differs is recreated on its next start, so a renewed credential or a new image
 * takes effect without touching the volume; the secret values themselves never appear in a label.
 */
export function specHash(spec: AgentSpec, settings: ContainerSettings): string {
  const env = Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b));
  return createHash("sha256")
    .update(
      // The effective image in the agent image's place: a spec without an image of its own hashes as before.
      JSON.stringify([
        OPTIONS_VERSION,
        agentImage(spec, settings),
        settings.network,
        settings.limits,
        spec.kind,
        env,
      ]),
    )
    .digest("hex")
    .slice(0, 16);
}
