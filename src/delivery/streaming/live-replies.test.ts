import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import type { ReplyContext } from "../../ingress/event.ts";
import { type OpenedStore, openStore } from "../../store/index.ts";
import type { Platform } from "../../store/port.ts";
import { OutboxDispatcher } from "../dispatcher.ts";
import { RateGovernor } from "../governor.ts";
import { createOutbox, type KyselyOutbox } from "../outbox.ts";
import type { PlatformSender } from "../port.ts";
import { createSenders } from "../senders/index.ts";
import { settled, simulatedPlatforms } from "../testing/harness.ts";
import { WebchatHub } from "../webchat-hub.ts";
import { LiveReplies, type TurnTarget } from "./live-replies.ts";

/** Live replies with the real dispatcher, store and senders, against the platform simulator. */
describe("LiveReplies", () => {
  let sim: PlatformSimulator;
  let dir: string;
  let opened: OpenedStore;
  let outbox: KyselyOutbox;
  let senders: Map<Platform, PlatformSender>;
  const targets = new Map<string, TurnTarget>();
  const stops: (() => Promise<void>)[] = [];
  let turn = 0;

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    dir = await mkdtemp(path.join(tmpdir(), "cc-live-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
    outbox = createOutbox(opened.handle);
    senders = createSenders(simulatedPlatforms(sim.baseUrls()), new WebchatHub());
  });
  afterAll(async () => {
    await opened.store.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => sim.reset());
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  const setup = (options: { leaseMs?: number; sendTimeoutMs?: number } = {}) => {
    const governor = new RateGovernor({ editIntervalMs: 100, groupEditIntervalMs: 100, spaceSends: false });
    const live = new LiveReplies({
      db: opened.handle.db,
      senders,
      governor,
      target: async (id) => targets.get(id),
    });
    const dispatcher = new OutboxDispatcher({
      outbox,
      senders,
      governor,
      closeLive: (key) => live.close(key),
      pollIntervalMs: 20,
      leaseMs: options.leaseMs ?? 2_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 1_000,
    });
    dispatcher.start();
    stops.push(
      () => live.stop(),
      () => dispatcher.stop(),
    );
    return { live, dispatcher };
  };
  const newTurn = (reply: ReplyContext) => {
    const id = `turn-${++turn}`;
    const conversationKey = `${reply.platform}:${id}`;
    targets.set(id, { platform: reply.platform, conversationKey, reply, inboundReceivedAt: Date.now() });
    return { id, conversationKey };
  };
  const final = async (t: { id: string; conversationKey: string }, reply: ReplyContext, text: string) => {
    await outbox.enqueue({
      idempotencyKey: `turn:${t.id}:final`,
      platform: reply.platform,
      conversationKey: t.conversationKey,
      reply,
      inboundReceivedAt: Date.now(),
      text,
      extras: { stream: t.id },
    });
  };

  it("a retried turn's text replaces the first attempt's in the same message", async () => {
    const { live } = setup();
    const reply = { platform: "telegram", chatId: -200001 } as const;
    const t = newTurn(reply);
    live.started(t.conversationKey, t.id);
    live.delta(t.conversationKey, t.id, "attempt one says hello");
    await sim.waitFor((s) => s.messagesTo(-200001).length === 1, 5_000, "the live message");
    live.restarted(t.conversationKey, t.id);
    live.started(t.conversationKey, t.id);
    live.delta(t.conversationKey, t.id, "attempt two");
    await sim.waitFor(
      (s) => s.messagesTo(-200001)[0]?.text === "attempt two",
      5_000,
      "the second attempt's text alone",
    );
    expect(sim.messagesTo(-200001)).toHaveLength(1);
  });

  it("a 429 asking for longer than the lease, on a streaming chat, still sends exactly one final message", async () => {
    const { live, dispatcher } = setup({ leaseMs: 400, sendTimeoutMs: 200 });
    const reply = { platform: "telegram", chatId: 200002 } as const; // private chat: drafts, then sendMessage
    const t = newTurn(reply);
    live.delta(t.conversationKey, t.id, "thinking");
    await sim.waitFor((s) => s.calls({ endpoint: "sendMessageDraft" }).length === 1, 5_000, "a draft");
    sim.fail({ platform: "telegram", endpoint: "sendMessageDraft", status: 429, retryAfterSeconds: 2 });
    live.delta(t.conversationKey, t.id, " harder");
    await sim.waitFor((s) => s.calls({ status: 429 }).length === 1, 5_000, "the 429");
    await final(t, reply, "the final answer");
    dispatcher.kick();
    expect(await settled(outbox, `turn:${t.id}:final`, 10_000)).toBe("sent");
    await new Promise((r) => setTimeout(r, 600));
    const sends = sim.calls({ endpoint: "sendMessage" });
    expect(sends).toHaveLength(1);
    expect(sim.messagesTo(200002).map((m) => m.text)).toEqual(["the final answer"]);
    // Not before the wait the platform asked for.
    const limited = sim.calls({ status: 429 })[0]?.receivedAt ?? 0;
    expect((sends[0]?.receivedAt ?? 0) - limited).toBeGreaterThanOrEqual(1_900);
  }, 20_000);

  it("never updates a turn whose final answer is already in the outbox (another process's)", async () => {
    const { live } = setup();
    const reply = { platform: "discord", channelId: "1100000000000000301" } as const;
    const t = newTurn(reply);
    live.delta(t.conversationKey, t.id, "first words");
    await sim.waitFor((s) => s.messagesTo("1100000000000000301").length === 1, 5_000, "the live message");
    // Another process enqueued the final answer (and its dispatcher has not run yet here).
    await outbox.enqueue({
      idempotencyKey: `turn:${t.id}:final`,
      platform: "discord",
      conversationKey: t.conversationKey,
      reply,
      inboundReceivedAt: Date.now(),
      text: "done",
      extras: { stream: t.id },
      // Due later, so only the stale update could touch the message meanwhile.
    });
    await opened.handle.db
      .updateTable("outbox")
      .set({ next_attempt_at: Date.now() + 60_000 })
      .where("idempotency_key", "=", `turn:${t.id}:final`)
      .execute();
    live.delta(t.conversationKey, t.id, " and a stale update");
    await new Promise((r) => setTimeout(r, 400));
    expect(sim.messagesTo("1100000000000000301")[0]?.text).toBe("first words");
  });
});
