import { spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { delimiter, join } from "node:path";
import Dockerode from "dockerode";
import { followEngineStream, imageExists } from "../../src/vm/images/engine.ts";
import { type BuiltImages, buildImages } from "../../src/vm/images/index.ts";

/**
 * Docker for tests: the machine's engine (/var/run/docker.sock, started by scripts/test.sh), the test
 * image built offline from this checkout, and extra `dockerd` instances playing other hosts of the pool.
 */

const LOCAL_SOCKET = "/var/run/docker.sock";
const FIX =
  "run scripts/test.sh (it installs Debian's docker.io and starts dockerd), or start it by hand: " +
  "dockerd > /var/log/cloudclaude-dockerd.log 2>&1 &";

/** A dockerode client for the machine's engine. */
export function localDocker(): Dockerode {
  return new Dockerode({ socketPath: LOCAL_SOCKET });
}

/** Fails with the fix when the engine does not answer (tests never skip for a missing engine). */
export async function requireEngine(docker: Dockerode, where = LOCAL_SOCKET): Promise<void> {
  try {
    await withTimeout(docker.ping(), 5_000);
  } catch (error) {
    throw new Error(`no Docker engine answers on ${where}: ${FIX}`, { cause: error });
  }
}

/**
 * The test image (`cloudclaude-agent-test:<hash>`, fake Claude Code inside), built when missing. Quick
 * when present (hashing the inputs, about a second); a change to src/ rebuilds only the top layers.
 */
export async function ensureTestImage(docker: Dockerode): Promise<string> {
  await requireEngine(docker);
  const images = await buildImages(docker, { offline: true, test: true });
  return images.agent;
}

/** The test image and the base it is built on (`cloudclaude-base:<hash>`, no /opt/cloudclaude/src). */
export async function ensureTestImages(docker: Dockerode): Promise<BuiltImages> {
  await requireEngine(docker);
  return buildImages(docker, { offline: true, test: true });
}

/** Copies an image between engines (`docker save | docker load`); skipped when `to` has the same image. */
export async function copyImage(from: Dockerode, to: Dockerode, tag: string): Promise<boolean> {
  const source = await from.getImage(tag).inspect();
  if (await imageExists(to, tag)) {
    if ((await to.getImage(tag).inspect()).Id === source.Id) return false;
  }
  const tarball = await from.getImage(tag).get();
  await followEngineStream(await to.loadImage(tarball), `docker load of ${tag}`);
  return true;
}

export interface DockerHost {
  readonly name: string;
  /** `unix:///run/cloudclaude-test/<name>.sock` */
  readonly url: string;
  readonly docker: Dockerode;
  /** SIGTERM, as an orderly shutdown (its containers stop with it). */
  stop(): Promise<void>;
  /**
   * SIGKILL: the host crashes. Its containerd dies with it; the containers' shims survive, and a restarted
   * dockerd (no live-restore) finds those containers stopped, as after a real crash.
   */
  kill(): Promise<void>;
  /** Stops it if running and starts it again (same socket, same data). */
  restart(): Promise<void>;
}

const RUN_DIR = "/run/cloudclaude-test";
const DATA_DIR = "/var/lib/cloudclaude-test";
const LOG_DIR = "/var/log/cloudclaude-test";

/**
 * Another Docker host on this machine: a separate `dockerd` with its own socket, data root (kept between
 * runs, so images copied there stay), exec root, pid file and containerd (dockerd starts its own when
 * `--containerd` is not given and no system containerd runs; the containerd namespace is its own anyway).
 * No bridge and no iptables rules: containers in tests run with `--network none`. An instance already
 * running under that name is reused. Needs root, like dockerd. Use a distinct name per test file.
 */
export async function startDockerHost(name: string): Promise<DockerHost> {
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`invalid host name ${JSON.stringify(name)}`);
  if (process.getuid?.() !== 0) throw new Error("startDockerHost needs root, as dockerd does");
  const paths = {
    socket: join(RUN_DIR, `${name}.sock`),
    pidfile: join(RUN_DIR, `${name}.pid`),
    execRoot: join(RUN_DIR, name),
    containerdPid: join(RUN_DIR, name, "containerd", "containerd.pid"),
    config: join(RUN_DIR, `${name}.json`),
    dataRoot: join(DATA_DIR, name),
    log: join(LOG_DIR, `${name}.log`),
  };
  const docker = new Dockerode({ socketPath: paths.socket });
  const answers = async () => {
    try {
      await withTimeout(docker.ping(), 2_000);
      return true;
    } catch {
      return false;
    }
  };

  const start = async (): Promise<void> => {
    if (await answers()) return;
    for (const dir of [RUN_DIR, DATA_DIR, LOG_DIR]) mkdirSync(dir, { recursive: true });
    // After a kill the pid files remain, and their processes may linger as zombies (an init that does not
    // reap), which dockerd takes for a running daemon or containerd. Gone is gone: drop the files.
    for (const file of [paths.pidfile, paths.containerdPid]) {
      if (existsSync(file) && !pidAlive(readPid(file))) rmSync(file, { force: true });
    }
    // Its own (empty) configuration: /etc/docker/daemon.json, if any, belongs to the machine's engine.
    writeFileSync(paths.config, "{}\n");
    const log = openSync(paths.log, "a");
    const args = [
      `--host=unix://${paths.socket}`,
      `--data-root=${paths.dataRoot}`,
      `--exec-root=${paths.execRoot}`,
      `--pidfile=${paths.pidfile}`,
      `--config-file=${paths.config}`,
      `--containerd-namespace=cloudclaude-test-${name}`,
      `--containerd-plugins-namespace=cloudclaude-test-${name}-plugins`,
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
    ];
    // Detached, so it outlives this test process like a real host (stop() ends it).
    const child = spawn(findDockerd(), args, { detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    child.unref();
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (await answers()) return;
      // Another test process may have won the race for the same name: its daemon will answer.
      if (exited && !pidAlive(readPid(paths.pidfile))) break;
      await sleep(200);
    }
    throw new Error(`dockerd for host ${name} did not answer on ${paths.socket}:\n${logTail(paths.log)}`);
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const pid = readPid(paths.pidfile);
    if (!pidAlive(pid)) return;
    const containerd = readPid(paths.containerdPid);
    process.kill(pid, sig);
    if (!(await gone(pid, 30_000))) process.kill(pid, "SIGKILL");
    // Its containerd follows it (it dies with its parent). Until it is gone, a new dockerd would take the
    // dying one for a running containerd, wait for it and fail.
    await gone(containerd, 10_000);
  };

  await start();
  return {
    name,
    url: `unix://${paths.socket}`,
    docker,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    restart: async () => {
      await signal("SIGTERM");
      await start();
    },
  };
}

function findDockerd(): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "dockerd");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(`dockerd is not installed: ${FIX}`);
}

function readPid(pidfile: string): number {
  try {
    return Number(readFileSync(pidfile, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (killed but not yet reaped by its parent, e.g. this process) counts as gone.
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return !/^\d+ \(.*\) Z/.test(stat);
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "(no log)";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The HostConfig the Docker runtime gives an agent (issue 5): read-only root with a tmpfs on /tmp, no
 * capabilities, no privilege gain, no network, the agent's named volume on /home/agent.
 */
export function hardenedHostConfig(volume: string): Dockerode.HostConfig {
  return {
    ReadonlyRootfs: true,
    Tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m" },
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    NetworkMode: "none",
    Mounts: [{ Type: "volume", Source: volume, Target: "/home/agent" }],
  };
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in a fresh container to its end (`docker run --rm`), output captured. */
export async function runOnce(
  docker: Dockerode,
  image: string,
  cmd: readonly string[],
  hostConfig: Dockerode.HostConfig = { NetworkMode: "none" },
): Promise<RunResult> {
  const container = await docker.createContainer({ Image: image, Cmd: [...cmd], HostConfig: hostConfig });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: StatusCode, ...demux(logs) };
  } finally {
    await container.remove({ force: true });
  }
}

/** Whether `needle` occurs anywhere in an image's filesystem (`docker export` of a container of it). */
export async function exportContains(
  docker: Dockerode,
  image: string,
  needle: Buffer,
): Promise<{ found: boolean; bytes: number }> {
  const container = await docker.createContainer({ Image: image, HostConfig: { NetworkMode: "none" } });
  try {
    let carry = Buffer.alloc(0);
    let found = false;
    let bytes = 0;
    for await (const chunk of (await container.export()) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      const window = Buffer.concat([carry, chunk]);
      if (window.includes(needle)) found = true;
      carry = window.subarray(Math.max(0, window.length - needle.length + 1));
    }
    return { found, bytes };
  } finally {
    await container.remove({ force: true });
  }
}

/** Splits the engine's multiplexed output (8-byte frame headers: stream, 0, 0, 0, length). */
export function demux(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let at = 0; at + 8 <= buffer.length; ) {
    const size = buffer.readUInt32BE(at + 4);
    (buffer[at] === 2 ? err : out).push(buffer.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Removes every image carrying `label` (`key=value`), tags and all (forced); errors are ignored. */
export async function removeImages(docker: Dockerode, label: string): Promise<void> {
  for (const image of await docker.listImages({ filters: { label: [label] } })) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  }
}

/** Removes every container and volume an installation (`CLOUDCLAUDE_INSTANCE`) left on an engine. */
export async function removeInstance(docker: Dockerode, instance: string): Promise<void> {
  const filters = { label: [`cloudclaude.instance=${instance}`] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker.getContainer(c.Id).remove({ force: true });
  }
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) {
    await docker.getVolume(v.Name).remove();
  }
}
