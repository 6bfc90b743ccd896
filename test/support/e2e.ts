import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type CliProcess, freePort, startCli, waitForOk } from "./cli.ts";
import { FAKE_CLAUDE } from "./fake-claude/agent-harness.ts";
import { PlatformSimulator } from "./fakes/platform-simulator.ts";
import {
  type TestPlatforms,
  type TrafficRequest,
  testPlatforms,
  type WebhookPlatformName,
} from "./traffic.ts";
import { DISCORD_TEST_APPLICATION_ID } from "./webhooks/discord.ts";
import { TELEGRAM_TEST_BOT_ID } from "./webhooks/telegram.ts";

/** The chat users the end-to-end tests talk as, and how CLOUDCLAUDE_ADMINS names them. */
export const E2E_USERS = [1, 2, 3] as const;

function adminIds(): string {
  const ids: string[] = [];
  for (const u of E2E_USERS) {
    ids.push(`line:U${u.toString(16).padStart(32, "0")}`);
    ids.push(`slack:U${u}`);
    ids.push("discord:1100000000000000005");
    ids.push(`telegram:${10_000 + u}`);
  }
  return [...new Set(ids)].join(",");
}

/**
 * A whole CloudClaude (`serve`, the real executable) with every platform enabled, replies going to the
 * platform simulator, and agents running the real daemon and Agent SDK over the fake Claude Code CLI.
 */
export class E2eSystem {
  readonly traffic: TestPlatforms;
  readonly sim: PlatformSimulator;
  readonly dataDir: string;
  readonly base: string;
  readonly env: Record<string, string>;
  server: CliProcess;
  /**
   * Values that must never appear in a log line or a chat message: the server's credential and platform
   * tokens, plus whatever a test adds (people's keys). Checked by `stop()` over everything recorded.
   */
  readonly secrets = new Set<string>();
  /** What earlier server processes of this system printed (before a restart). */
  readonly earlierOutput: string[] = [];

  private constructor(
    traffic: TestPlatforms,
    sim: PlatformSimulator,
    dataDir: string,
    port: number,
    env: Record<string, string>,
  ) {
    this.traffic = traffic;
    this.sim = sim;
    this.dataDir = dataDir;
    this.base = `http://127.0.0.1:${port}`;
    this.env = env;
    this.server = startCli(["serve"], env);
    for (const name of [
      "ANTHROPIC_API_KEY",
      "LINE_CHANNEL_ACCESS_TOKEN",
      "SLACK_BOT_TOKEN",
      "DISCORD_BOT_TOKEN",
      "TELEGRAM_BOT_TOKEN",
    ]) {
      if (env[name]) this.secrets.add(env[name]);
    }
  }

  static async start(extraEnv: Record<string, string> = {}): Promise<E2eSystem> {
    const traffic = testPlatforms();
    const sim = await PlatformSimulator.start();
    const dataDir = await mkdtemp(path.join(tmpdir(), "cc-e2e-"));
    const port = await freePort();
    const env = {
      ...traffic.env,
      ...sim.baseUrls(),
      CLOUDCLAUDE_DATA_DIR: dataDir,
      CLOUDCLAUDE_PORT: String(port),
      LINE_CHANNEL_ACCESS_TOKEN: "line-test-access-token",
      SLACK_BOT_TOKEN: "xoxb-test-bot-token",
      DISCORD_BOT_TOKEN: "discord-test-bot-token-0123456789",
      DISCORD_GATEWAY: "off",
      CLOUDCLAUDE_ADMINS: adminIds(),
      ANTHROPIC_API_KEY: "sk-ant-test-not-a-real-key",
      CLAUDE_CODE_EXECUTABLE: FAKE_CLAUDE,
      LOG_LEVEL: "warn",
      ...extraEnv,
    };
    const system = new E2eSystem(traffic, sim, dataDir, port, env);
    await system.ready();
    return system;
  }

  async ready(): Promise<void> {
    await waitForOk(`${this.base}/readyz`, this.server);
  }

  /** SIGKILL and start again on the same data dir and port. */
  async crashAndRestart(): Promise<void> {
    this.server.child.kill("SIGKILL");
    await this.server.exited;
    this.earlierOutput.push(this.server.output());
    this.server = startCli(["serve"], this.env);
    await this.ready();
  }

  /** A signed message webhook from `user` on `platform`, prepared so the simulator accepts the reply. */
  message(platform: WebhookPlatformName, text: string, user: number = 1): TrafficRequest {
    const req = this.traffic.message(platform, text, user);
    if (platform === "discord") {
      const body = JSON.parse(req.body) as { token: string; channel_id: string };
      this.sim.registerDiscordInteraction(body.token, body.channel_id);
    }
    return req;
  }

  async post(req: TrafficRequest): Promise<Response> {
    const res = await fetch(`${this.base}${req.path}`, {
      method: "POST",
      headers: req.headers,
      body: req.body,
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${req.path} answered ${res.status}`);
    return res;
  }

  /** Texts the simulator received on a platform, in order. */
  replies(platform: WebhookPlatformName): string[] {
    return this.sim.messages({ platform }).map((m) => m.text);
  }

  async waitForReply(platform: WebhookPlatformName, contains: string, timeoutMs = 20_000): Promise<void> {
    await this.sim.waitFor(
      (sim) => sim.messages({ platform }).some((m) => m.text.includes(contains)),
      timeoutMs,
      `a ${platform} reply containing ${JSON.stringify(contains)} (got ${JSON.stringify(this.replies(platform))}; server: ${this.server.output().slice(-2000)})`,
    );
  }

  /** Starts the server again after the test stopped it (e.g. to run a CLI command on a quiet database). */
  async restart(): Promise<void> {
    this.earlierOutput.push(this.server.output());
    this.server = startCli(["serve"], this.env);
    await this.ready();
  }

  /** Every log line and chat message recorded so far that holds one of `secrets`. */
  async leaks(): Promise<string[]> {
    const daemonLogs: string[] = [];
    const agents = await readdir(path.join(this.dataDir, "agents")).catch(() => [] as string[]);
    for (const agent of agents) {
      daemonLogs.push(
        await readFile(path.join(this.dataDir, "agents", agent, "agent", "daemon.log"), "utf8").catch(
          () => "",
        ),
      );
    }
    const texts = [
      ...this.earlierOutput,
      this.server.output(),
      ...daemonLogs,
      ...this.sim.calls().map((c) => JSON.stringify(c.body)),
    ];
    const lines = texts.flatMap((t) => t.split("\n"));
    return lines.filter((line) => [...this.secrets].some((s) => line.includes(s)));
  }

  /** Stops everything, then fails if any secret showed up in a log line or a chat message (issue 8). */
  async stop(): Promise<void> {
    this.server.child.kill("SIGTERM");
    await this.server.exited;
    const leaks = await this.leaks();
    await this.sim.close();
    if (leaks.length > 0)
      throw new Error(`secrets leaked into logs or chats:\n${leaks.slice(0, 5).join("\n")}`);
  }
}

export { DISCORD_TEST_APPLICATION_ID, TELEGRAM_TEST_BOT_ID };
