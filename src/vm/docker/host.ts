import { PassThrough } from "node:stream";
import type Dockerode from "dockerode";
import { pullImage } from "../../build/registry.ts";
import type { Logger } from "../../shared/logger.ts";
import { isUnreachable } from "../manager.ts";
import type { AgentSpec, BridgeStream } from "../port.ts";
import {
  AGENT_COMMAND,
  AGENT_HOME,
  AGENT_USER,
  agentImage,
  agentLabels,
  type ContainerSettings,
  containerOptions,
  LABEL,
  NODE_COMPILE_CACHE,
  type RegistryAuth,
  specHash,
} from "./container-spec.ts";

export interface HostedContainer {
  readonly agent: string;
  readonly kind: "switchboard" | "project";
  readonly running: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/** How long `openBridge` lets the daemon of a just-started container take to open its socket. */
const BRIDGE_WAIT_MS = 30_000;
/**
 * How long pulling a project's image onto a host may take: an environment image is hundreds of MB (the
 * test image's 300 MB take 5–20 s from a registry on the same machine), minutes across a slow link. Past
 * this the start fails with the pull error; the engine may still finish the pull, and the next start then
 * finds the image.
 */
const PULL_TIMEOUT_MS = 10 * 60_000;

/**
 * One Docker engine of the pool: creates, adopts, starts, stops and removes our containers and volumes
 * there. Names are deterministic (`cloudclaude-<instance>-<agent>`), so every operation is idempotent: a
 * create that finds the container adopts it, a stop of a stopped one is a no-op.
 */
export class DockerHost {
  readonly name: string;
  readonly docker: Dockerode;
  readonly #settings: ContainerSettings;
  readonly #logger: Logger;

  constructor(options: { name: string; docker: Dockerode; settings: ContainerSettings; logger: Logger }) {
    this.name = options.name;
    this.docker = options.docker;
    this.#settings = options.settings;
    this.#logger = options.logger;
  }

  containerName(agent: string): string {
    return `cloudclaude-${this.#settings.instance}-${agent}`;
  }

  volumeName(agent: string): string {
    return `cloudclaude-${this.#settings.instance}-${agent}-home`;
  }

  /**
   * Whether an image (by default the agent image, checked at start so a missing one is said up front) is
   * on this engine.
   */
  async hasImage(image = this.#settings.image): Promise<boolean> {
    try {
      await timed(this.docker.getImage(image).inspect(), "inspect image");
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /** Whether the engine answers within `timeoutMs`. */
  async ping(timeoutMs = 3_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.docker.ping().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Makes sure the agent's volume and container exist (creating them, or adopting what is there) and
   * that the container runs. A stopped container built from an older spec (image, credential, limits) is
   * replaced; the volume always stays. An agent with an image of its own (a project's environment image)
   * that this engine lacks gets it pulled here first.
   */
  async ensureStarted(spec: AgentSpec): Promise<"started" | "already-running"> {
    const container = this.docker.getContainer(this.containerName(spec.name));
    let info = await timed(inspectOrUndefined(container), "inspect");
    const current = specHash(spec, this.#settings);
    if (info && !info.State.Running && info.Config.Labels?.[LABEL.specHash] !== current) {
      this.#logger.info({ agent: spec.name, host: this.name }, "container spec changed; recreating it");
      // By id and without force: if someone else replaced it meanwhile, theirs (perhaps running) is spared.
      await timed(this.docker.getContainer(info.Id).remove(), "remove").catch(ignoreStatus(404, 409));
      info = undefined;
    }
    if (info?.State.Running) return "already-running";
    if (!info) {
      const labels = agentLabels(spec, this.#settings);
      await timed(
        this.docker.createVolume({ Name: this.volumeName(spec.name), Labels: labels }),
        "create volume",
      )
        // Another manager, or our own retry after a lost response, made it: adopt it.
        .catch(ignoreStatus(409));
      const options = containerOptions(spec, this.#settings, {
        container: this.containerName(spec.name),
        volume: this.volumeName(spec.name),
      });
      const create = () =>
        // A 409: another manager, or our own retry after a lost response, made it: adopt it.
        timed(this.docker.createContainer(options), "create").catch(ignoreStatus(409));
      try {
        await create();
      } catch (error) {
        // A 404 names the image, unless the image is there (then it is about something else).
        const image = agentImage(spec, this.#settings);
        if (statusOf(error) !== 404 || (await this.hasImage(image))) throw error;
        if (spec.image === undefined) {
          throw new Error(
            `the agent image ${image} is not on Docker host ${this.name}: build it there with ` +
              "`cloudclaude images build --offline` (or pull it from your registry)",
          );
        }
        await this.#pull(spec.name, spec.image);
        await create();
      }
    }
    await timed(container.start(), "start").catch(ignoreStatus(304));
    return "started";
  }

  /**
   * `docker pull` of an agent's own image onto this engine, with the registry login when the image is in
   * that registry. Bounded by PULL_TIMEOUT_MS; an engine that cannot be reached fails as such (the
   * manager marks the host down), anything else as "could not pull".
   */
  async #pull(agent: string, image: string): Promise<void> {
    const started = Date.now();
    this.#logger.info({ agent, host: this.name, image }, "pulling the agent's image onto its host");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${PULL_TIMEOUT_MS / 60_000} minutes`)),
        PULL_TIMEOUT_MS,
      );
    });
    try {
      const auth = authFor(image, this.#settings.registryAuth);
      await Promise.race([pullImage(this.docker, image, auth), timeout]);
    } catch (error) {
      if (isUnreachable(error)) throw error;
      throw new Error(
        `could not pull ${image} on Docker host ${this.name}: ${pullFailure(error)}; ` +
          "is the registry reachable from that host?",
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    this.#logger.info({ agent, host: this.name, image, ms: Date.now() - started }, "image pulled");
  }

  /** Starts the existing container as it is (no spec check); false when there is none. */
  async startExisting(agent: string): Promise<boolean> {
    try {
      await timed(this.docker.getContainer(this.containerName(agent)).start(), "start");
      return true;
    } catch (error) {
      if (statusOf(error) === 304) return true;
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async stop(agent: string, graceSeconds = 10): Promise<void> {
    const container = this.docker.getContainer(this.containerName(agent));
    await timed(container.stop({ t: graceSeconds }), "stop", (graceSeconds + 30) * 1000).catch(
      ignoreStatus(304, 404),
    );
  }

  async removeContainer(agent: string): Promise<void> {
    const container = this.docker.getContainer(this.containerName(agent));
    await timed(container.remove({ force: true }), "remove").catch(ignoreStatus(404));
  }

  async removeVolume(agent: string): Promise<void> {
    await timed(this.docker.getVolume(this.volumeName(agent)).remove(), "remove volume").catch(
      ignoreStatus(404),
    );
  }

  async inspect(agent: string): Promise<{ running: boolean; exitCode: number } | undefined> {
    const info = await timed(
      inspectOrUndefined(this.docker.getContainer(this.containerName(agent))),
      "inspect",
    );
    return info && { running: info.State.Running, exitCode: info.State.ExitCode };
  }

  /** Our containers on this engine (this installation's only), running or not. */
  async containers(): Promise<HostedContainer[]> {
    const filters = { label: [`${LABEL.managed}=true`, `${LABEL.instance}=${this.#settings.instance}`] };
    const list = await timed(this.docker.listContainers({ all: true, filters }), "list containers");
    return list.flatMap((c) => {
      const agent = c.Labels[LABEL.agent];
      const kind = c.Labels[LABEL.kind];
      if (!agent || (kind !== "switchboard" && kind !== "project")) return [];
      return [{ agent, kind, running: c.State === "running", labels: c.Labels }];
    });
  }

  /** Agents that have a volume on this engine (a volume outlives its container). */
  async volumes(): Promise<string[]> {
    const filters = { label: [`${LABEL.managed}=true`, `${LABEL.instance}=${this.#settings.instance}`] };
    const { Volumes } = await timed(this.docker.listVolumes({ filters }), "list volumes");
    return (Volumes ?? []).flatMap((v) => {
      const agent = v.Labels?.[LABEL.agent];
      return agent ? [agent] : [];
    });
  }

  /**
   * Runs `cloudclaude agent bridge` in the container through the exec API; its stdin/stdout carry the
   * bridge protocol. The bridge waits for the daemon's socket, so it can be opened right after a start.
   */
  async openBridge(agent: string): Promise<BridgeStream> {
    const container = this.docker.getContainer(this.containerName(agent));
    const exec = await timed(
      container.exec({
        Cmd: [...AGENT_COMMAND, "bridge", "--home", AGENT_HOME, "--wait", String(BRIDGE_WAIT_MS)],
        User: AGENT_USER,
        Env: [`NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE}`],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      }),
      "exec",
    );
    const socket = await timed(exec.start({ hijack: true, stdin: true }), "exec start");
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    this.docker.modem.demuxStream(socket, stdout, stderr);
    stderr.on("data", (chunk: Buffer) =>
      this.#logger.debug({ agent, host: this.name, stderr: chunk.toString().trim() }, "bridge stderr"),
    );
    const closed = new Promise<void>((resolve) => {
      const done = () => {
        stdout.end();
        resolve();
      };
      socket.once("end", done);
      socket.once("close", done);
      socket.once("error", done);
    });
    return {
      // Writes go straight to the exec's stdin; the daemon side sees EOF when we end it.
      stdin: socket,
      stdout,
      closed,
      close: () => socket.destroy(),
    };
  }
}

/** Engine calls that do not answer in time (a wedged dockerd) fail instead of hanging their caller. */
const CALL_TIMEOUT_MS = 30_000;

export class EngineTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`the Docker engine did not answer ${what} within ${ms / 1000} s`);
    this.name = "EngineTimeoutError";
  }
}

async function timed<T>(call: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineTimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function inspectOrUndefined(
  container: Dockerode.Container,
): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await container.inspect();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error
    ? Number((error as { statusCode: unknown }).statusCode)
    : undefined;
}

/**
 * The registry login for pulling `image`, only when the image is in that registry: the engine sends
 * X-Registry-Auth to whatever registry the reference names, so another registry must not get it.
 */
export function authFor(image: string, auth: RegistryAuth | undefined): RegistryAuth | undefined {
  if (!auth) return undefined;
  return registryOf(image) === registryOf(`${auth.serveraddress.replace(/^[a-z]+:\/\//i, "")}/x`)
    ? auth
    : undefined;
}

/** The registry part of an image reference as the engine reads it (`host[:port]`, else Docker Hub). */
function registryOf(reference: string): string {
  const slash = reference.indexOf("/");
  const first = slash < 0 ? "" : reference.slice(0, slash).toLowerCase();
  const isHost = first.includes(".") || first.includes(":") || first === "localhost";
  if (!isHost || ["index.docker.io", "registry-1.docker.io"].includes(first)) return "docker.io";
  return first;
}

/**
 * The engine's reason for a failed pull in one line ("manifest … not found", "connection refused", …):
 * without dockerode's "(HTTP code 404) unexpected - " or our "docker pull … failed: " in front.
 */
function pullFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "")
    .replace(/^\(HTTP code \d+\) [^-]*- /, "")
    .replace(/^docker pull \S+ failed: /, "")
    .trim();
}

/** For `.catch`: swallows engine errors with one of these HTTP statuses (already done, not there). */
function ignoreStatus(...statuses: number[]): (error: unknown) => void {
  return (error) => {
    if (!statuses.includes(statusOf(error) ?? 0)) throw error;
  };
}
