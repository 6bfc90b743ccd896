import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test/support/fakes/http.ts";
import {
  capturingLogger,
  type InboxHarness,
  openInboxHarness,
  texts,
} from "../../../test/support/fakes/inbox-harness.ts";
import { FakeTelegramBotApi } from "../../../test/support/fakes/telegram-bot-api.ts";
import type { Inbox } from "../../inbox/port.ts";
import { type TelegramPollingOptions, TelegramPollingTransport } from "./telegram-polling.ts";

const FAST = { backoff: { initialMs: 20, maxMs: 200 }, pollTimeoutSeconds: 1, requestMarginMs: 2_000 };

describe("Telegram long polling", () => {
  let fake: FakeTelegramBotApi;
  let harness: InboxHarness;
  const running: TelegramPollingTransport[] = [];

  beforeEach(async () => {
    fake = await FakeTelegramBotApi.start();
    harness = await openInboxHarness();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
    await fake.close();
    await harness.close();
  });

  function transport(overrides: Partial<TelegramPollingOptions> = {}): TelegramPollingTransport {
    const t = new TelegramPollingTransport({
      token: fake.token,
      apiRoot: fake.apiRoot,
      botUsername: fake.botUsername,
      inbox: harness.inbox,
      logger: capturingLogger().logger,
      ...FAST,
      ...overrides,
    });
    running.push(t);
    return t;
  }

  async function drainUntil(count: number): Promise<void> {
    await waitFor(async () => {
      await harness.drain();
      return harness.drained.length >= count;
    }, `${count} events in the inbox`);
  }

  it("stores updates normalised and in order, confirming a batch only with the next poll", async () => {
    const first = fake.pushText("one");
    fake.pushText("two");
    fake.pushText("three");
    await transport().start();
    await drainUntil(3);
    const fourth = fake.pushText("four");
    await drainUntil(4);

    expect(texts(harness.drained)).toEqual(["one", "two", "three", "four"]);
    const [event] = harness.drained;
    expect(event).toMatchObject({
      platform: "telegram",
      eventId: `${fake.botId}:${first}`,
      conversation: { key: "telegram:1001", kind: "dm" },
      sender: { platformUserId: "1001" },
      reply: { platform: "telegram", chatId: 1001 },
    });
    const polls = fake.callsTo("getUpdates");
    expect(polls[0]?.params).not.toHaveProperty("offset");
    expect(polls[0]?.params).toMatchObject({ timeout: 1, allowed_updates: ["message", "callback_query"] });
    expect(polls.map((c) => c.params.offset)).toContain(first + 3);
    await waitFor(
      () => fake.callsTo("getUpdates").some((c) => c.params.offset === fourth + 1),
      "confirmation",
    );
    expect(fake.unconfirmed()).toEqual([]);
  });

  it("does not confirm what it could not store; the re-polled updates are stored exactly once", async () => {
    const broken = await harness.brokenInbox();
    let failing = true;
    const switchable: Pick<Inbox, "enqueue"> = {
      enqueue: (events) => (failing ? broken : harness.inbox).enqueue(events),
    };
    const { logger, lines } = capturingLogger();
    const first = fake.pushText("kept one");
    fake.pushText("kept two");
    await transport({ inbox: switchable, logger }).start();

    await waitFor(() => fake.callsTo("getUpdates").filter((c) => c.status === 200).length >= 3, "re-polls");
    expect(fake.unconfirmed()).toEqual([first, first + 1]);
    expect(fake.callsTo("getUpdates").every((c) => c.params.offset === undefined)).toBe(true);
    expect(lines.some((l) => String(l.msg).includes("not confirming them"))).toBe(true);

    failing = false;
    await drainUntil(2);
    await waitFor(() => fake.unconfirmed().length === 0, "confirmation");
    await new Promise((r) => setTimeout(r, 100));
    await harness.drain();
    expect(texts(harness.drained)).toEqual(["kept one", "kept two"]);
  });

  it("after a crash between storing and confirming, a new process gets the updates again and stores them once", async () => {
    let crashed = false;
    const crashAfterStore: Pick<Inbox, "enqueue"> = {
      async enqueue(events) {
        await harness.inbox.enqueue(events);
        crashed = true;
        return new Promise(() => {}); // the process dies here: the offset never reaches Telegram
      },
    };
    fake.pushText("a");
    fake.pushText("b");
    fake.pushText("c");
    // Not stopped: a crashed process does not shut down (its loop is stuck for good, no socket stays open).
    await new TelegramPollingTransport({
      token: fake.token,
      apiRoot: fake.apiRoot,
      botUsername: fake.botUsername,
      inbox: crashAfterStore,
      logger: capturingLogger().logger,
      ...FAST,
    }).start();
    await waitFor(() => crashed, "the first process to store and crash");
    expect(fake.unconfirmed()).toHaveLength(3);

    const restarted = transport();
    await restarted.start();
    await waitFor(() => fake.unconfirmed().length === 0, "the restarted process to confirm");
    fake.pushText("d");
    await drainUntil(4);
    await restarted.stop();
    await harness.drain();
    expect(texts(harness.drained)).toEqual(["a", "b", "c", "d"]);
  });

  it("confirms the last stored batch when stopped, so a restart does not receive it again", async () => {
    let entered = false;
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowInbox: Pick<Inbox, "enqueue"> = {
      async enqueue(events) {
        entered = true;
        await gate;
        return harness.inbox.enqueue(events);
      },
    };
    const t = transport({ inbox: slowInbox, pollTimeoutSeconds: 25 });
    await t.start();
    const id = fake.pushText("only");
    await waitFor(() => entered, "the enqueue to begin");
    const stopping = t.stop();
    release();
    await stopping;
    expect(fake.unconfirmed()).toEqual([]);
    expect(fake.callsTo("getUpdates").at(-1)?.params).toEqual({ offset: id + 1, limit: 1, timeout: 0 });
    expect(texts(await harness.drain())).toEqual(["only"]);
  });

  it("says that a webhook is set (409), backs off with a cap, and recovers once it is deleted", async () => {
    fake.setWebhook("https://example.invalid/webhooks/telegram");
    const { logger, lines } = capturingLogger();
    await transport({ logger, backoff: { initialMs: 40, maxMs: 160 } }).start();
    await waitFor(() => fake.callsTo("getUpdates").filter((c) => c.status === 409).length >= 5, "five 409s");

    const conflicts = lines.filter((l) =>
      String(l.msg).includes("a webhook is set: delete it or use TELEGRAM_MODE=webhook"),
    );
    expect(conflicts.length).toBeGreaterThanOrEqual(4);
    expect(conflicts[0]?.level).toBe(50);
    const delays = conflicts.map((l) => Number(l.retryInMs));
    expect(delays[0]).toBeLessThanOrEqual(48);
    expect(Math.max(...delays)).toBeGreaterThan(100);
    expect(delays.every((d) => d <= 160)).toBe(true);
    const at = fake.callsTo("getUpdates").map((c) => c.at);
    for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBeGreaterThanOrEqual(25);

    fake.setWebhook("");
    fake.pushText("after the webhook is gone");
    await drainUntil(1);
    expect(texts(harness.drained)).toEqual(["after the webhook is gone"]);
  });

  it("explains a rejected token and retries through server errors", async () => {
    const { logger, lines } = capturingLogger();
    await transport({ logger, token: "123456789:AAwrong-token-wrong-token-wrong" }).start();
    await waitFor(
      () => lines.some((l) => String(l.msg).includes("Telegram rejected the bot token")),
      "401 log",
    );

    const { logger: logger2, lines: lines2 } = capturingLogger();
    fake.failNext(2, 502, "Bad Gateway", "<html>502 Bad Gateway</html>");
    fake.failNext(1, 500);
    fake.pushText("through errors");
    await transport({ logger: logger2 }).start();
    await drainUntil(1);
    expect(lines2.some((l) => String(l.msg).includes("answered HTTP 502 without a Bot API reply"))).toBe(
      true,
    );
    expect(lines2.some((l) => String(l.msg).includes("Telegram Bot API error (getUpdates: 500"))).toBe(true);
    expect(JSON.stringify([...lines, ...lines2])).not.toContain("AAwrong-token");
  });

  it("learns the username with getMe when it is not configured", async () => {
    await transport({ botUsername: undefined }).start();
    await waitFor(() => fake.callsTo("getUpdates").length > 0 || fake.polling, "a poll");
    expect(fake.callsTo("getMe")).toHaveLength(1);
  });

  it("stop() aborts the waiting long poll at once", async () => {
    const t = transport({ pollTimeoutSeconds: 25 });
    await t.start();
    await waitFor(() => fake.polling, "a waiting long poll");
    const began = Date.now();
    await t.stop();
    expect(Date.now() - began).toBeLessThan(1_000);
    await t.stop(); // idempotent
  });
});
