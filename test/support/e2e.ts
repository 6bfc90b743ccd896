import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type CliProcess, freePort, runCli, startCli, waitForOk } from "./cli.ts";
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
  /** What the CLI commands run through `cli()` printed: searched for secrets too. */
  readonly cliOutput: string[] = [];

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
    await this.rememberMasterKeys();
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

  /** Runs a CLI command against this system's configuration, keeping its output for the leak scan. */
  async cli(args: string[], extraEnv: Record<string, string> = {}): ReturnType<typeof runCli> {
    const result = await runCli(args, { ...this.env, ...extraEnv });
    this.cliOutput.push(result.output);
    return result;
  }

  /**
   * Every log line, chat message and CLI output recorded so far that holds one of `secrets` or a master
   * key (the key file's, or CLOUDCLAUDE_MASTER_KEY), raw or JSON-escaped (once or twice, as a value inside
   * a JSON string inside a log line), each reported with the secret's first characters only.
   */
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
      ...this.cliOutput,
      ...this.sim.calls().map((c) => JSON.stringify(c.body)),
    ];
    await this.rememberMasterKeys();
    const secrets = this.secrets;
    const forms = [...secrets].flatMap((secret) => {
      const once = JSON.stringify(secret).slice(1, -1);
      const twice = JSON.stringify(once).slice(1, -1);
      return [...new Set([secret, once, twice])].map((form) => ({ secret, form }));
    });
    const found: string[] = [];
    for (const text of texts) {
      for (const { secret, form } of forms) {
        let at = text.indexOf(form);
        while (at !== -1) {
          const line = text.slice(text.lastIndexOf("\n", at) + 1, text.indexOf("\n", at) >>> 0);
          found.push(`${secret.slice(0, 8)}… in: ${line.replaceAll(form, "<SECRET>").slice(0, 300)}`);
          at = text.indexOf(form, at + form.length);
        }
      }
    }
    return found;
  }

  /**
   * Adds the master keys to `secrets`: CLOUDCLAUDE_MASTER_KEY's and those in the key file now (called at
   * each restart too, so a key rotated away is still searched for).
   */
  async rememberMasterKeys(): Promise<void> {
    const keys = (this.env.CLOUDCLAUDE_MASTER_KEY ?? "").split(",").map((k) => k.trim());
    const file = await readFile(path.join(this.dataDir, "keys", "master-key.json"), "utf8").catch(() => "");
    if (file !== "") {
      for (const k of (JSON.parse(file) as { keys: { key: string }[] }).keys) keys.push(k.key);
    }
    for (const key of keys) if (key.length >= 16) this.secrets.add(key);
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
