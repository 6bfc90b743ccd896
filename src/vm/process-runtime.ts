import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { agentHomePaths } from "../agent/home.ts";
import type { Logger } from "../shared/logger.ts";
import { AGENT_NAME } from "./names.ts";
import type { AgentInfo, AgentSpec, BridgeStream, ContainerRuntime } from "./port.ts";

export interface ProcessRuntimeOptions {
  /** Each agent gets `<root>/<name>` as its home (its "volume"). */
  readonly root: string;
  /** The `cloudclaude` executable script (bin/cloudclaude.js). */
  readonly cli: string;
  readonly logger: Logger;
  /** How long a starting daemon may take to open its socket. */
  readonly startTimeoutMs?: number;
}

/**
 * Agents as local child processes: the daemon runs detached in its own directory, so it outlives a crash
 * of the control plane exactly as a container would, and a restarted `serve` adopts it through its pid
 * file and socket. It isolates nothing (same user, same filesystem): development and tests only.
 */
export class ProcessRuntime implements ContainerRuntime {
  readonly kind = "process" as const;
  readonly #options: ProcessRuntimeOptions;
  /** Daemons started by this process, stopped on `close()`. */
  readonly #started = new Map<string, ChildProcess>();
  readonly #starting = new Map<string, Promise<void>>();

  constructor(options: ProcessRuntimeOptions) {
    this.#options = options;
  }

  ensureRunning(spec: AgentSpec): Promise<void> {
    if (!AGENT_NAME.test(spec.name))
      return Promise.reject(new Error(`invalid agent name ${JSON.stringify(spec.name)}`));
    // Concurrent callers for one agent share one start.
    let starting = this.#starting.get(spec.name);
    if (!starting) {
      starting = this.#ensure(spec).finally(() => this.#starting.delete(spec.name));
      this.#starting.set(spec.name, starting);
    }
    return starting;
  }

  async #ensure(spec: AgentSpec): Promise<void> {
    const home = this.#home(spec.name);
    const paths = agentHomePaths(home);
    if (await this.#alive(spec.name)) return;
    await mkdir(paths.agentDir, { recursive: true });
    await writeFile(
      path.join(home, "agent.json"),
      JSON.stringify({ name: spec.name, kind: spec.kind, labels: spec.labels }, null, 2),
    );
    const log = openSync(path.join(paths.agentDir, "daemon.log"), "a");
    const child = spawn(
      process.execPath,
      [this.#options.cli, "agent", "daemon", "--home", home, "--kind", spec.kind],
      {
        cwd: home,
        detached: true,
        stdio: ["ignore", log, log],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, ...spec.env },
      },
    );
    child.unref();
    this.#started.set(spec.name, child);
    this.#options.logger.info({ agent: spec.name, pid: child.pid }, "agent daemon started (process runtime)");
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (existsSync(paths.socket) && (await this.#pid(spec.name)) === child.pid) return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const tail = await readFile(path.join(paths.agentDir, "daemon.log"), "utf8").catch(() => "");
    throw new Error(`agent ${spec.name} did not start: ${tail.split("\n").slice(-5).join(" | ")}`);
  }

  async openBridge(name: string): Promise<BridgeStream> {
    const home = this.#home(name);
    const child = spawn(process.execPath, [this.#options.cli, "agent", "bridge", "--home", home], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      closed,
      close: () => {
        child.kill("SIGTERM");
      },
    };
  }

  async markActive(_name: string): Promise<boolean> {
    return true; // processes have no idle policy: they run until stopped
  }

  async stop(name: string): Promise<void> {
    const pid = await this.#pid(name);
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 200 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
    this.#started.delete(name);
  }

  async remove(name: string, options: { volume?: boolean } = {}): Promise<void> {
    await this.stop(name);
    if (options.volume) await rm(this.#home(name), { recursive: true, force: true });
  }

  async inspect(name: string): Promise<AgentInfo | undefined> {
    try {
      const meta = JSON.parse(await readFile(path.join(this.#home(name), "agent.json"), "utf8")) as {
        kind: AgentInfo["kind"];
        labels: Record<string, string>;
      };
      return {
        name,
        kind: meta.kind,
        labels: meta.labels,
        state: (await this.#alive(name)) ? "running" : "stopped",
      };
    } catch {
      return undefined;
    }
  }

  async list(): Promise<AgentInfo[]> {
    const names = await readdir(this.#options.root).catch(() => [] as string[]);
    const infos = await Promise.all(names.filter((n) => AGENT_NAME.test(n)).map((n) => this.inspect(n)));
    return infos.filter((i): i is AgentInfo => i !== undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#started.keys()].map((name) => this.stop(name).catch(() => {})));
  }

  #home(name: string): string {
    return path.join(this.#options.root, name);
  }

  async #pid(name: string): Promise<number | undefined> {
    const text = await readFile(agentHomePaths(this.#home(name)).pidFile, "utf8").catch(() => "");
    const pid = Number.parseInt(text, 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  }

  async #alive(name: string): Promise<boolean> {
    const pid = await this.#pid(name);
    // Not a test connection: the daemon takes any connection as its (one) bridge, replacing the current one.
    return pid !== undefined && isAlive(pid) && existsSync(agentHomePaths(this.#home(name)).socket);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
