import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentFetcher } from "../src/attachments/download.ts";
import type { PlatformsConfig } from "../src/config/index.ts";
import type { InboundEvent } from "../src/ingress/event.ts";
import { createLogger } from "../src/shared/logger.ts";
import { E2eSystem } from "./support/e2e.ts";
import { FakeDiscordGateway } from "./support/fakes/discord-gateway.ts";
import { PlatformSimulator } from "./support/fakes/platform-simulator.ts";
import { FILE_WEBHOOK_PLATFORMS, type FileWebhookPlatform, fileMessage } from "./support/traffic.ts";
import { DISCORD_TEST_USER_ID } from "./support/webhooks/discord.ts";

const LIMIT = 64 * 1024;

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex").slice(0, 12);

/** Every file under the agents' `workspace/attachments/`, by path relative to its workspace. */
async function attachedFiles(dataDir: string): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const agents = path.join(dataDir, "agents");
  for (const agent of await readdir(agents).catch(() => [] as string[])) {
    const root = path.join(agents, agent, "workspace");
    const turns = await readdir(path.join(root, "attachments")).catch(() => [] as string[]);
    for (const turn of turns) {
      for (const name of await readdir(path.join(root, "attachments", turn))) {
        const rel = `attachments/${turn}/${name}`;
        found.set(rel, await readFile(path.join(root, rel)));
      }
    }
  }
  return found;
}

/**
 * Files people send reach the agent, end to end from a signed webhook: downloaded from the platform
 * simulator with each platform's auth, written into the agent's working tree, announced to Claude (the
 * fake CLI reads them back and reports their hash), refused politely when too large, and not fetched at
 * all when the platform refuses our credential.
 */
describe("attachments", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start({ CLOUDCLAUDE_ATTACHMENT_MAX_BYTES: String(LIMIT) });
  }, 60_000);
  afterAll(() => system.stop());

  const token = (platform: FileWebhookPlatform): string =>
    ({
      line: system.env.LINE_CHANNEL_ACCESS_TOKEN,
      slack: system.env.SLACK_BOT_TOKEN,
      telegram: system.env.TELEGRAM_BOT_TOKEN,
    })[platform] ?? "";

  const file = {
    line: { name: "photo.jpg", contentType: "image/jpeg" },
    slack: { name: "report.pdf", contentType: "application/pdf" },
    telegram: { name: "diagram.png", contentType: "image/png" },
  } as const;

  it.each(FILE_WEBHOOK_PLATFORMS)(
    "%s: a file sent lands in the agent's working tree, byte for byte, where the turn says",
    async (platform) => {
      const bytes = randomBytes(3_000 + platform.length);
      const ref = system.sim.hostFile({ platform, ...file[platform], bytes, token: token(platform) });
      await system.post(fileMessage(platform, ref, 1, "files"));
      await system.waitForReply(platform, `sha256:${sha(bytes)}`);

      // The fake Claude read the file at the announced path (relative to its cwd, the workspace).
      const reply = system.replies(platform).find((t) => t.includes(sha(bytes))) ?? "";
      const match = /file (attachments\/t\d+\/\S+) (\d+) sha256:/.exec(reply);
      expect(match, reply).not.toBeNull();
      const announced = match?.[1] ?? "";
      expect(Number(match?.[2])).toBe(bytes.length);
      // And the bytes on the agent's volume are exactly those sent.
      expect((await attachedFiles(system.dataDir)).get(announced)?.equals(bytes)).toBe(true);
      // LINE images carry no name: one is made from the media type.
      if (platform === "line") expect(announced).toMatch(/\/image-1\.jpg$/);
      if (platform === "slack") expect(announced).toMatch(/\/report\.pdf$/);

      // Fetched with the platform's own credential.
      const fetched = system.sim.calls({ platform }).filter((c) => c.method === "GET" && c.status === 200);
      if (platform === "telegram") {
        expect(fetched.map((c) => c.endpoint)).toEqual(expect.arrayContaining(["getFile", "file"]));
        expect(fetched.every((c) => c.path.includes(`/bot${token(platform)}/`))).toBe(true);
      } else {
        expect(fetched.length).toBeGreaterThan(0);
        expect(fetched.every((c) => c.headers.authorization === `Bearer ${token(platform)}`)).toBe(true);
      }
    },
    30_000,
  );

  it.each([
    ["slack", "declared by the platform"],
    ["line", "found while downloading"],
  ] as const)(
    "%s: a file over the limit (%s) is refused politely and nothing is written",
    async (platform, _how) => {
      const before = await attachedFiles(system.dataDir);
      const bytes = randomBytes(LIMIT + 1_000);
      const named = platform === "slack" ? { name: "huge.zip", contentType: "application/zip" } : file.line;
      const ref = system.sim.hostFile({ platform, ...named, bytes, token: token(platform) });
      await system.post(fileMessage(platform, ref, 2, "files"));
      // The person is told, and so is Claude (the fake repeats the note it got).
      await system.waitForReply(platform, "is too large for me");
      await system.waitForReply(platform, "[not attached: ");
      const notice = system.replies(platform).find((t) => t.includes("is too large for me")) ?? "";
      expect(notice).toContain("64 KB per file");
      expect([...(await attachedFiles(system.dataDir)).keys()]).toEqual([...before.keys()]);
      if (platform === "slack") {
        // Its declared size was enough: not even a download was tried.
        expect(
          system.sim.calls({ platform, endpoint: "files-pri" }).filter((c) => c.path.includes(ref.id)),
        ).toEqual([]);
      }
    },
    30_000,
  );

  it.each(FILE_WEBHOOK_PLATFORMS)(
    "%s: a platform that refuses our credential gives nothing, and the person is told",
    async (platform) => {
      const before = await attachedFiles(system.dataDir);
      const bytes = randomBytes(500);
      // The simulator checks the credential: this file only opens for a token we do not have.
      const ref = system.sim.hostFile({ platform, ...file[platform], bytes, token: "someone-elses-token" });
      const calls = system.sim.calls({ platform }).length;
      await system.post(fileMessage(platform, ref, 3, "files"));
      await system.waitForReply(platform, "could not download");
      await system.waitForReply(platform, "could not be downloaded");
      expect([...(await attachedFiles(system.dataDir)).keys()]).toEqual([...before.keys()]);
      const refused = system.sim
        .calls({ platform })
        .slice(calls)
        .filter((c) => c.method === "GET");
      expect(refused.length).toBeGreaterThan(0);
      // Telegram and LINE answer 401; Slack its sign-in page (200, text/html).
      if (platform !== "slack") expect(refused.some((c) => c.status === 401)).toBe(true);
    },
    30_000,
  );
});

/** Discord's files come on Gateway messages, and are fetched from their signed CDN URL without a token. */
describe("attachments: Discord over the Gateway", () => {
  let system: E2eSystem;
  let gateway: FakeDiscordGateway;
  const botToken = "discord-test-bot-token-0123456789";
  beforeAll(async () => {
    gateway = await FakeDiscordGateway.start({ token: botToken });
    system = await E2eSystem.start({ DISCORD_GATEWAY: "on", DISCORD_BOT_TOKEN: botToken });
    system.sim.useDiscordGateway(gateway.apiUrl);
    await system.sim.waitFor(() => gateway.sessionId !== undefined, 30_000, "a Gateway session");
  }, 60_000);
  afterAll(async () => {
    await system.stop();
    await gateway.close();
  });

  it("a file on a DM lands in the agent's working tree, byte for byte", async () => {
    const bytes = randomBytes(2_048);
    const ref = system.sim.hostFile({
      platform: "discord",
      name: "notes.txt",
      contentType: "text/plain",
      bytes,
    });
    const channel = "1300000000000000001";
    gateway.messageCreate("files", {
      author: { id: DISCORD_TEST_USER_ID, username: "ann", global_name: "Ann", discriminator: "0" },
      attachments: [
        { id: ref.id, filename: ref.name, content_type: ref.contentType, size: ref.size, url: ref.url },
      ],
    });
    await system.sim.waitFor(
      (sim) => sim.messagesTo(channel, "discord").some((m) => m.text.includes(sha(bytes))),
      30_000,
      `the agent's report (got ${JSON.stringify(system.replies("discord"))})`,
    );
    const reply = system.replies("discord").find((t) => t.includes(sha(bytes))) ?? "";
    const announced = /file (attachments\/t\d+\/notes\.txt) 2048 sha256:/.exec(reply)?.[1] ?? "";
    expect(announced, reply).not.toBe("");
    expect((await attachedFiles(system.dataDir)).get(announced)?.equals(bytes)).toBe(true);
    const cdn = system.sim.calls({ platform: "discord", endpoint: "cdn" });
    expect(cdn.map((c) => c.status)).toEqual([200]);
    expect(cdn[0]?.headers.authorization).toBeUndefined(); // the bot token never goes to the CDN
  }, 40_000);
});

/** The downloader against the simulator's signed CDN URLs: a tampered signature is refused. */
describe("attachments: Discord CDN", () => {
  let sim: PlatformSimulator;
  beforeAll(async () => {
    sim = await PlatformSimulator.start();
  });
  afterAll(() => sim.close());

  function event(url: string, size: number): InboundEvent {
    return {
      platform: "discord",
      eventId: "1300000000000000001",
      conversation: { key: "discord:1200000000000000001", kind: "dm" },
      sender: { platformUserId: "1100000000000000005" },
      occurredAt: Date.now(),
      receivedAt: Date.now(),
      addressedToBot: true,
      content: {
        type: "message",
        text: "",
        attachments: [{ kind: "file", ref: url, name: "notes.txt", mimeType: "text/plain", sizeBytes: size }],
      },
      reply: { platform: "discord", channelId: "1200000000000000001" },
      raw: {},
    };
  }

  it("fetches the signed URL as given, without the bot token; a tampered one is refused", async () => {
    const urls = sim.baseUrls();
    const platforms: PlatformsConfig = {
      line: {
        channelSecret: undefined,
        botUserId: undefined,
        accessToken: undefined,
        apiBaseUrl: urls.LINE_API_BASE_URL,
      },
      slack: {
        signingSecret: undefined,
        botToken: undefined,
        appToken: undefined,
        apiUrl: urls.SLACK_API_URL,
      },
      discord: {
        publicKey: undefined,
        applicationId: undefined,
        botToken: "discord-bot-token-not-for-the-cdn",
        gateway: false,
        apiUrl: urls.DISCORD_API_URL,
      },
      telegram: {
        webhookSecret: undefined,
        botToken: undefined,
        mode: "webhook",
        botUsername: undefined,
        apiRoot: urls.TELEGRAM_API_ROOT,
      },
    };
    const fetcher = new AttachmentFetcher({
      platforms,
      maxBytes: LIMIT,
      timeoutMs: 5_000,
      logger: createLogger({ level: "silent" }),
    });
    const bytes = Buffer.from("hello from discord\n");
    const ref = sim.hostFile({ platform: "discord", name: "notes.txt", contentType: "text/plain", bytes });
    const ok = await fetcher.fetchAll([event(ref.url ?? "", bytes.length)]);
    expect(ok.skipped).toEqual([]);
    expect(ok.files).toEqual([
      { name: "notes.txt", mediaType: "text/plain", dataBase64: bytes.toString("base64") },
    ]);
    expect(sim.calls({ platform: "discord", endpoint: "cdn" })[0]?.headers.authorization).toBeUndefined();

    const tampered = (ref.url ?? "").replace(
      /hm=([0-9a-f])/,
      (_, c: string) => `hm=${c === "0" ? "1" : "0"}`,
    );
    const refused = await fetcher.fetchAll([event(tampered, bytes.length)]);
    expect(refused).toEqual({ files: [], skipped: [{ name: "notes.txt", reason: "failed" }] });
    expect(sim.calls({ platform: "discord", endpoint: "cdn" }).map((c) => c.status)).toEqual([200, 403]);
  });
});
