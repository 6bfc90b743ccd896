import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { AgentEvent, DaemonFrame, RouterFrame } from "../../../src/agent/protocol.ts";

/**
 * Test harness for the agent daemon: the real daemon and bridge as child processes, Claude Code replaced by
 * the fake CLI. Frames are asserted as the router would see them.
 */
export const FAKE_CLAUDE = fileURLToPath(new URL("./fake-claude.ts", import.meta.url));
const AGENT_MAIN = fileURLToPath(new URL("../../../src/agent/main.ts", import.meta.url));

export function tempHome(prefix = "cc-agent-"): string {
  return join(mkdtempSync(join(tmpdir(), prefix)), "home");
}

/** PATH with this Node.js first: the SDK runs the fake (a `.ts` path) with `node` from the child's PATH. */
function childPath(): string {
  return [dirname(process.execPath), process.env.PATH ?? ""].join(":");
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly home: string;
  readonly output: () => string;
  readonly exited: Promise<number | string>;
}

export function startDaemon(options: {
  home: string;
  kind?: "switchboard" | "project";
  env?: Record<string, string>;
}): DaemonProcess {
  const child = spawn(
    process.execPath,
    [AGENT_MAIN, "daemon", "--home", options.home, "--kind", options.kind ?? "project"],
    {
      env: {
        PATH: childPath(),
        HOME: process.env.HOME ?? tmpdir(),
        CLAUDE_CODE_EXECUTABLE: FAKE_CLAUDE,
        LOG_LEVEL: "debug",
        ...options.env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let out = "";
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, home: options.home, output: () => out, exited };
}

/** Waits until the daemon accepts connections (its pid file is written once the socket listens). */
export async function waitForDaemon(daemon: DaemonProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pidFile = join(daemon.home, "agent", "daemon.pid");
  while (Date.now() < deadline) {
    if (existsSync(pidFile)) return;
    if (daemon.child.exitCode !== null) break;
    await sleep(25);
  }
  throw new Error(`agent daemon did not start. Output:\n${daemon.output()}`);
}

export async function stopDaemon(
  daemon: DaemonProcess,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<number | string> {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill(signal);
  return daemon.exited;
}

/** A bridge process attached to the daemon, as the router runs it. */
export class BridgeClient {
  readonly frames: DaemonFrame[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  private stderr = "";
  private waiters: Array<() => void> = [];

  private constructor(home: string) {
    this.child = spawn(process.execPath, [AGENT_MAIN, "bridge", "--home", home, "--wait", "5000"], {
      env: { PATH: childPath(), HOME: process.env.HOME ?? tmpdir() },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr?.on("data", (d) => {
      this.stderr += String(d);
    });
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      this.frames.push(JSON.parse(line) as DaemonFrame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        resolve(code ?? signal ?? -1);
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** Spawns a bridge, says hello and waits for welcome. */
  static async attach(home: string, resumeFrom = 0): Promise<BridgeClient> {
    const client = new BridgeClient(home);
    client.send({ type: "hello", protocol: 1, resumeFrom });
    await client.waitFor((f) => f.type === "welcome");
    return client;
  }

  send(frame: RouterFrame | string): void {
    this.child.stdin?.write(typeof frame === "string" ? `${frame}\n` : `${JSON.stringify(frame)}\n`);
  }

  events(): AgentEvent[] {
    return this.frames.filter((f): f is AgentEvent => "seq" in f);
  }

  /** Events of one turn, in order. */
  turnEvents(turnId: string): AgentEvent[] {
    return this.events().filter((e) => e.turnId === turnId);
  }

  lastSeq(): number {
    return this.events().reduce((max, e) => Math.max(max, e.seq), 0);
  }

  async waitFor<F extends DaemonFrame>(
    predicate: (frame: DaemonFrame) => frame is F,
    timeoutMs?: number,
  ): Promise<F>;
  async waitFor(predicate: (frame: DaemonFrame) => boolean, timeoutMs?: number): Promise<DaemonFrame>;
  async waitFor(predicate: (frame: DaemonFrame) => boolean, timeoutMs = 15_000): Promise<DaemonFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`bridge exited while waiting. stderr: ${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a frame. Got:\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the turn's turn_finished or turn_failed. */
  ended(turnId: string, timeoutMs?: number): Promise<AgentEvent> {
    return this.waitFor(
      (f): f is AgentEvent =>
        "seq" in f && f.turnId === turnId && (f.type === "turn_finished" || f.type === "turn_failed"),
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    await this.exited;
  }

  kill(): Promise<number | string> {
    this.child.kill("SIGKILL");
    return this.exited;
  }

  private describe(): string {
    return this.frames.map((f) => JSON.stringify(f).slice(0, 200)).join("\n");
  }
}

let turnCounter = 0;

export function turnFrame(
  conversation: string,
  text: string,
  options: { turnId?: string; attempt?: number; sessionId?: string | null } = {},
): Extract<RouterFrame, { type: "turn" }> {
  return {
    type: "turn",
    turnId: options.turnId ?? `turn-${++turnCounter}-${Date.now()}`,
    conversation,
    attempt: options.attempt ?? 1,
    sessionId: options.sessionId ?? null,
    text,
    sender: { id: "user-1", name: "Tester" },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
