import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../test/support/fakes/platform-simulator.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import type { Platform } from "../store/port.ts";
import { OutboxDispatcher, type OutboxDispatcherOptions } from "./dispatcher.ts";
import { RateGovernor } from "./governor.ts";
import { createOutbox, type KyselyOutbox } from "./outbox.ts";
import type { PlatformSender } from "./port.ts";
import { createSenders } from "./senders/index.ts";
import { settled, simulatedPlatforms } from "./testing/harness.ts";
import { longText, outbound } from "./testing/messages.ts";
import { WebchatHub } from "./webchat-hub.ts";

describe("OutboxDispatcher (SQLite, simulated platforms)", () => {
  let sim: PlatformSimulator;
  let dir: string;
  let opened: OpenedStore;
  let outbox: KyselyOutbox;
  let senders: Map<Platform, PlatformSender>;
  const running: OutboxDispatcher[] = [];

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    dir = await mkdtemp(path.join(tmpdir(), "cc-dispatch-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
    outbox = createOutbox(opened.handle);
    senders = createSenders(simulatedPlatforms(sim.baseUrls()), new WebchatHub());
  });
  afterAll(async () => {
    await opened.store.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await opened.handle.db.deleteFrom("outbox").execute();
    sim.reset();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
  });

  const start = (options: Partial<OutboxDispatcherOptions> = {}) => {
    const dispatcher = new OutboxDispatcher({
      outbox,
      senders,
      pollIntervalMs: 20,
      backoff: () => 20,
      // Spacing of sends per chat has its own test below; the others look at order and failures.
      governor: new RateGovernor({ spaceSends: false }),
      ...options,
    });
    running.push(dispatcher);
    dispatcher.start();
    return dispatcher;
  };
  const telegram = (chatId: number, text: string) =>
    outbound({ platform: "telegram", chatId }, text, { conversationKey: `telegram:${chatId}` });
  const discord = (channelId: string, text: string) =>
    outbound({ platform: "discord", channelId }, text, { conversationKey: `discord:${channelId}` });

  it("sends a conversation's messages in order, chunk by chunk, beside other conversations", async () => {
    const first = telegram(1, longText(3, 3_000));
    const later = [telegram(1, "second"), telegram(1, "third")];
    const other = telegram(2, "meanwhile");
    for (const m of [first, ...later, other]) await outbox.enqueue(m);
    sim.delay({ platform: "telegram", endpoint: "sendMessage", ms: 200 });
    start().kick();
    for (const m of [first, ...later, other]) expect(await settled(outbox, m.idempotencyKey)).toBe("sent");

    const chunks = senders.get("telegram")?.chunk(first.text) ?? [];
    expect(chunks).toHaveLength(3);
    expect(sim.messagesTo(1).map((m) => m.text)).toEqual([...chunks, "second", "third"]);
    // The other conversation did not wait for the delayed one.
    const [meanwhile] = sim.messagesTo(2);
    const [head] = sim.messagesTo(1);
    expect(meanwhile && head && meanwhile.createdAt < head.createdAt).toBe(true);
    expect((await outbox.get(first.idempotencyKey))?.chunksSent).toBe(3);
  });

  it("spaces the messages of one chat as the platform asks, and a 429 pauses the chat, losing nothing", async () => {
    const messages = [
      telegram(7, "one"),
      telegram(7, "two"),
      telegram(-1007, "group a"),
      telegram(-1007, "group b"),
    ];
    for (const m of messages) await outbox.enqueue(m);
    sim.fail({ platform: "telegram", endpoint: "sendMessage", status: 429, retryAfterSeconds: 1, skip: 1 });
    start({ governor: new RateGovernor({ botPerSecond: 25 }) }).kick();
    for (const m of messages) expect(await settled(outbox, m.idempotencyKey)).toBe("sent");
    expect(sim.messagesTo(7).map((m) => m.text)).toEqual(["one", "two"]);
    expect(sim.messagesTo(-1007).map((m) => m.text)).toEqual(["group a", "group b"]);
    // From the simulator's answer to a call until the next call of the chat arrives: the interval the
    // governor keeps (it starts when the platform has answered), however late a busy test notices a call.
    const gaps = (chat: number) => {
      const calls = sim.calls({ endpoint: "sendMessage" }).filter((c) => c.body.chat_id === chat);
      return calls.slice(1).map((c, i) => c.receivedAt - (calls[i]?.at ?? 0));
    };
    // 1 s between messages in a private chat, 3 s in a group; a 429 asked for 1 s more.
    for (const gap of gaps(7)) expect(gap).toBeGreaterThanOrEqual(1_000);
    for (const gap of gaps(-1007)) expect(gap).toBeGreaterThanOrEqual(3_000);
    expect(sim.calls({ status: 429 })).toHaveLength(1);
  }, 20_000);

  it("sends different conversations in parallel, at most `concurrency` at once", async () => {
    const messages = Array.from({ length: 6 }, (_, i) => telegram(100 + i, `hello ${i}`));
    for (const m of messages) await outbox.enqueue(m);
    sim.delay({ platform: "telegram", ms: 150, times: 6 });
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, sim.inFlight({ platform: "telegram" }).length);
    }, 5);
    const began = Date.now();
    start({ concurrency: 3 }).kick();
    try {
      for (const m of messages) await settled(outbox, m.idempotencyKey);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBe(3);
    expect(Date.now() - began).toBeLessThan(6 * 150);
    expect(sim.messages({ platform: "telegram" })).toHaveLength(6);
  });

  it("waits as long as a 429's retry_after asks, holding only that conversation", async () => {
    const limited = telegram(5, "after the wait");
    await outbox.enqueue(limited);
    sim.fail({ platform: "telegram", status: 429, retryAfterSeconds: 1 });
    start().kick();
    await sim.waitFor((s) => s.calls({ status: 429 }).length === 1);
    const other = telegram(6, "not held up");
    await outbox.enqueue(other);
    expect(await settled(outbox, other.idempotencyKey, 900)).toBe("sent");
    expect(await settled(outbox, limited.idempotencyKey)).toBe("sent");

    const [refused, accepted] = sim
      .calls({ platform: "telegram", endpoint: "sendMessage" })
      .filter((c) => c.body.chat_id === 5);
    expect(accepted && refused && accepted.at - refused.at).toBeGreaterThanOrEqual(950);
    // A rate-limited try is not counted against the message.
    expect((await outbox.get(limited.idempotencyKey))?.attempts).toBe(1);
  });

  it("retries a 5xx with backoff", async () => {
    const message = discord("200", "eventually");
    await outbox.enqueue(message);
    sim.fail({ platform: "discord", status: 500, times: 2 });
    start().kick();
    expect(await settled(outbox, message.idempotencyKey)).toBe("sent");
    expect(sim.calls({ platform: "discord" }).map((c) => c.status)).toEqual([500, 500, 200]);
    expect(await outbox.get(message.idempotencyKey)).toMatchObject({ attempts: 3, chunksSent: 1 });
    expect(sim.messagesTo("200")).toHaveLength(1);
  });

  it("marks a message failed on a permanent 4xx and moves on to the next", async () => {
    const refused = outbound({ platform: "slack", teamId: "T", channel: "C9" }, "refused", {
      conversationKey: "s:C9",
    });
    const next = outbound({ platform: "slack", teamId: "T", channel: "C9" }, "next", {
      conversationKey: "s:C9",
    });
    await outbox.enqueue(refused);
    await outbox.enqueue(next);
    sim.fail({ platform: "slack", status: 404, description: "channel_not_found" });
    start().kick();
    expect(await settled(outbox, refused.idempotencyKey)).toBe("failed");
    expect(await settled(outbox, next.idempotencyKey)).toBe("sent");
    expect((await outbox.get(refused.idempotencyKey))?.lastError).toMatch(/chunk 1\/1: .*channel_not_found/);
    expect(sim.messagesTo("C9").map((m) => m.text)).toEqual(["next"]);
  });

  it("gives up on a message that keeps failing after maxAttempts", async () => {
    const message = telegram(7, "doomed");
    await outbox.enqueue(message);
    sim.fail({ platform: "telegram", status: 502, times: 10 });
    start({ maxAttempts: 3 }).kick();
    expect(await settled(outbox, message.idempotencyKey)).toBe("failed");
    expect(sim.calls({ platform: "telegram" })).toHaveLength(3);
    expect((await outbox.get(message.idempotencyKey))?.lastError).toMatch(/^gave up after 3 tries/);
  });

  it("fails a message for a platform that has no sender", async () => {
    const message = outbound({ platform: "line", to: "U1" }, "hi", { conversationKey: "line:U1" });
    await outbox.enqueue(message);
    start({ senders: new Map() }).kick();
    expect(await settled(outbox, message.idempotencyKey)).toBe("failed");
    expect((await outbox.get(message.idempotencyKey))?.lastError).toMatch(/no line sender/);
  });

  it("times out a hung call and resends under the same nonce, so Discord posts once", async () => {
    const message = discord("300", "slow platform");
    await outbox.enqueue(message);
    sim.delay({ platform: "discord", ms: 400 });
    start({ sendTimeoutMs: 100, leaseMs: 1_000 }).kick();
    expect(await settled(outbox, message.idempotencyKey)).toBe("sent");
    await sim.waitFor((s) => s.calls({ platform: "discord" }).length === 2);
    expect(
      sim
        .calls({ platform: "discord" })
        .map((c) => c.duplicate)
        .sort(),
    ).toEqual([false, true]);
    expect(sim.messagesTo("300")).toHaveLength(1);
  });

  it("stopped mid-message, hands the rest to the next dispatcher, which resumes with the next chunk", async () => {
    const message = discord("400", longText(3, 1_800));
    await outbox.enqueue(message);
    sim.delay({ platform: "discord", ms: 300 });
    const first = start();
    first.kick();
    await sim.waitFor((s) => s.inFlight({ platform: "discord" }).length === 1);
    await first.stop();
    expect(await outbox.get(message.idempotencyKey)).toMatchObject({ status: "pending", chunksSent: 1 });
    expect(sim.messagesTo("400")).toHaveLength(1);

    start().kick();
    expect(await settled(outbox, message.idempotencyKey)).toBe("sent");
    const chunks = senders.get("discord")?.chunk(message.text) ?? [];
    expect(sim.messagesTo("400").map((m) => m.text)).toEqual(chunks);
    expect(sim.calls({ platform: "discord" }).filter((c) => c.duplicate)).toEqual([]);

    // Sent is final: a restarted dispatcher sends nothing again.
    const before = sim.calls().length;
    start().kick();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sim.calls()).toHaveLength(before);
  });

  it("stop() is idempotent and start() after stop() is refused", async () => {
    const dispatcher = start();
    await Promise.all([dispatcher.stop(), dispatcher.stop()]);
    await dispatcher.stop();
    expect(() => dispatcher.start()).toThrow(/cannot be restarted/);
  });
});
