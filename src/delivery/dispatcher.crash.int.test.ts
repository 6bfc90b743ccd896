import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PlatformSimulator, type SimPlatform } from "../../test/support/fakes/platform-simulator.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { OutboxDispatcher } from "./dispatcher.ts";
import { createOutbox, type KyselyOutbox } from "./outbox.ts";
import type { OutboundMessage } from "./port.ts";
import { createSenders } from "./senders/index.ts";
import { settled, simulatedPlatforms } from "./testing/harness.ts";
import { longText, outbound } from "./testing/messages.ts";
import { WebchatHub } from "./webchat-hub.ts";

const CHILD = fileURLToPath(new URL("./testing/dispatcher-child.ts", import.meta.url));
const LEASE_MS = 1_500;

/**
 * A dispatcher process is SIGKILLed while the second of three chunks is at the platform. A new dispatcher
 * (in this process) takes the message over once the lease expires and resumes with chunk 2: every chunk
 * arrives once, in order, whether the platform had carried the killed request out (LINE and Discord
 * recognise the resend by its idempotency key) or never got it (the request was lost).
 */
describe("crash safety: a dispatcher killed mid-message", () => {
  let sim: PlatformSimulator;
  let dir: string;
  let opened: OpenedStore;
  let outbox: KyselyOutbox;
  let child: ChildProcess | undefined;
  const dispatchers: OutboxDispatcher[] = [];

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    dir = await mkdtemp(path.join(tmpdir(), "cc-crash-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
    outbox = createOutbox(opened.handle);
  });
  afterEach(async () => {
    child?.kill("SIGKILL");
    child = undefined;
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
    sim.reset();
  });
  afterAll(async () => {
    await opened.store.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  const senders = () => createSenders(simulatedPlatforms(sim.baseUrls()), new WebchatHub());

  async function runChild(): Promise<ChildProcess> {
    const proc = spawn(process.execPath, [CHILD], {
      env: {
        ...process.env,
        CC_TEST_DB: path.join(dir, "cloudclaude.db"),
        CC_TEST_SIM_URLS: JSON.stringify(sim.baseUrls()),
        CC_TEST_LEASE_MS: String(LEASE_MS),
        CC_TEST_SEND_TIMEOUT_MS: "1000",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [data] = (await once(proc.stdout ?? proc, "data")) as [Buffer];
    expect(data.toString()).toContain("ready");
    return proc;
  }

  async function crashAtSecondChunk(
    message: OutboundMessage,
    at: { platform: SimPlatform; endpoint: string; conversation: string },
    options: { lost?: boolean; messagesPerCall?: number; skip?: number } = {},
  ): Promise<void> {
    await outbox.enqueue(message);
    sim.delay({
      platform: at.platform,
      endpoint: at.endpoint,
      skip: options.skip ?? 1,
      ms: 800,
      drop: options.lost ?? false,
    });
    child = await runChild();
    await sim.waitFor((s) => s.inFlight(at).length === 1, 10_000, "chunk 2 at the platform");
    expect(sim.messagesTo(at.conversation)).toHaveLength(options.messagesPerCall ?? 1);
    child.kill("SIGKILL");
    await once(child, "exit");
    child = undefined;
    // The platform finishes (or loses) the request of the dead process.
    await sim.waitFor((s) => s.inFlight(at).length === 0, 5_000, "the held request to end");
    expect(await outbox.get(message.idempotencyKey)).toMatchObject({ status: "pending", chunksSent: 1 });

    const next = new OutboxDispatcher({ outbox, senders: senders(), pollIntervalMs: 20 });
    dispatchers.push(next);
    next.start();
    expect(await settled(outbox, message.idempotencyKey, 10_000)).toBe("sent");

    const chunks = senders().get(message.platform)?.chunk(message.text) ?? [];
    expect(chunks).toHaveLength(3);
    const texts = sim.messagesTo(at.conversation).map((m) => m.text);
    expect(texts.join("\u001e")).toBe(chunks.join("\u001e"));
    expect(await outbox.get(message.idempotencyKey)).toMatchObject({ chunksSent: 3, attempts: 2 });

    // Sent is final: another restart sends nothing.
    const before = sim.calls().length;
    const again = new OutboxDispatcher({ outbox, senders: senders(), pollIntervalMs: 20 });
    dispatchers.push(again);
    again.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sim.calls()).toHaveLength(before);
  }

  it("Discord: the resent chunk is deduplicated by its nonce", async () => {
    const message = outbound({ platform: "discord", channelId: "900" }, longText(3, 1_800));
    await crashAtSecondChunk(message, {
      platform: "discord",
      endpoint: "createMessage",
      conversation: "900",
    });
    expect(sim.calls({ endpoint: "createMessage" }).map((c) => c.duplicate)).toEqual([
      false,
      false,
      true,
      false,
    ]);
  });

  it("LINE: the resent push is recognised by its X-Line-Retry-Key (409)", async () => {
    const to = "Ucrash";
    const reply = { platform: "line", to, replyToken: sim.issueLineReplyToken(to) } as const;
    const message = outbound(reply, longText(11, 4_900));
    await crashAtSecondChunk(
      message,
      { platform: "line", endpoint: "push", conversation: to },
      // Chunk 1 is the reply-token call; chunk 2 is the first push.
      { messagesPerCall: 5, skip: 0 },
    );
    expect(sim.calls({ platform: "line" }).map((c) => `${c.endpoint} ${c.status}`)).toEqual([
      "reply 200",
      "push 200",
      "push 409",
      "push 200",
    ]);
  });

  it("Telegram: a chunk lost on the way is sent by the successor", async () => {
    const message = outbound({ platform: "telegram", chatId: 901 }, longText(3, 4_000));
    await crashAtSecondChunk(
      message,
      { platform: "telegram", endpoint: "sendMessage", conversation: "901" },
      { lost: true },
    );
    expect(sim.calls({ endpoint: "sendMessage" })).toHaveLength(3);
  });
});
