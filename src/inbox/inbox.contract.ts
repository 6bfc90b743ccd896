import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent } from "../../test/support/events.ts";
import type { DatabaseConfig } from "../config/index.ts";
import { type DatabaseHandle, openStore } from "../store/index.ts";
import { createInbox, type Inbox, type Lease, LeaseLostError } from "./index.ts";

const MAX_ATTEMPTS = 3;
const RETENTION_MS = 24 * 3_600_000;

/**
 * The behaviour every Inbox must have (see the guarantees on the port), run against SQLite and PostgreSQL.
 * Time is a fake clock, so leases expire and backoffs pass without sleeping.
 */
export function describeInboxContract(
  name: string,
  setup: () => Promise<{ database: DatabaseConfig; dispose: () => Promise<void> }>,
): void {
  describe(`Inbox contract: ${name}`, () => {
    let handle: DatabaseHandle;
    let closeStore: () => Promise<void>;
    let dispose: () => Promise<void>;
    let inbox: Inbox;
    let clock: number;
    let seq = 0;
    const key = () => `conv-${name}-${++seq}`;

    beforeAll(async () => {
      const db = await setup();
      dispose = db.dispose;
      const opened = await openStore(db.database);
      handle = opened.handle;
      closeStore = () => opened.store.close();
    });
    afterAll(async () => {
      await inbox.close();
      await closeStore();
      await dispose();
    });
    beforeEach(async () => {
      // Each test starts from an empty inbox and its own clock.
      await handle.db.deleteFrom("inbox_items").execute();
      await handle.db.deleteFrom("inbox_conversations").execute();
      clock = 1_800_000_000_000;
      inbox = createInbox(handle, {
        maxAttempts: MAX_ATTEMPTS,
        retentionMs: RETENTION_MS,
        backoff: (n) => n * 1_000,
        now: () => clock,
      });
    });

    const claim = (maxItems = 20, leaseMs = 30_000) => inbox.claim({ consumer: "test", leaseMs, maxItems });
    const texts = (lease: Lease | undefined) =>
      lease?.items.map((i) => (i.event.content.type === "message" ? i.event.content.text : "?"));

    it("stores an event once however often it is delivered", async () => {
      const event = makeEvent({ conversationKey: key() });
      expect(await inbox.enqueue([event])).toEqual([{ eventId: event.eventId, status: "accepted" }]);
      expect(await inbox.enqueue([event])).toEqual([{ eventId: event.eventId, status: "duplicate" }]);
      // A duplicate inside one request, too.
      const other = makeEvent({ conversationKey: event.conversation.key });
      expect((await inbox.enqueue([other, other])).map((o) => o.status)).toEqual(["accepted", "duplicate"]);
      const lease = await claim();
      expect(lease?.items.map((i) => i.event.eventId)).toEqual([event.eventId, other.eventId]);
      expect(lease?.items[0]?.event).toEqual(event);
    });

    it("keeps the same event id apart across platforms", async () => {
      const conv = key();
      const a = makeEvent({ eventId: "42", conversationKey: conv, platform: "telegram" });
      const b = makeEvent({ eventId: "42", conversationKey: conv, platform: "line" });
      expect((await inbox.enqueue([a, b])).map((o) => o.status)).toEqual(["accepted", "accepted"]);
    });

    it("hands a conversation out in order, one lease at a time", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "a1" })]);
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "a2" })]);
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "a3" })]);
      const first = await claim(1);
      expect(texts(first)).toEqual(["a1"]);
      expect(await claim()).toBeUndefined(); // leased: nobody else gets it
      await inbox.complete(first as Lease, [first?.items[0]?.id ?? 0]);
      const rest = await claim();
      expect(texts(rest)).toEqual(["a2", "a3"]);
      expect(rest?.items.map((i) => i.attempts)).toEqual([1, 1]);
    });

    it("hands different conversations out in parallel, oldest first", async () => {
      const a = key();
      const b = key();
      await inbox.enqueue([makeEvent({ conversationKey: a, text: "a" })]);
      clock += 1;
      await inbox.enqueue([makeEvent({ conversationKey: b, text: "b" })]);
      const first = await claim();
      const second = await claim();
      expect([first?.conversationKey, second?.conversationKey]).toEqual([a, b]);
      expect(await claim()).toBeUndefined();
    });

    it("a message arriving during a lease waits for it, then comes next", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "m1" })]);
      const lease = (await claim()) as Lease;
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "m2" })]);
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "m3" })]);
      expect(await claim()).toBeUndefined();
      await inbox.complete(
        lease,
        lease.items.map((i) => i.id),
      );
      expect(texts(await claim())).toEqual(["m2", "m3"]);
    });

    it("an expired lease makes the conversation claimable again and fences the old holder", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "x" })]);
      const stale = (await claim(20, 1_000)) as Lease;
      clock += 1_001;
      const fresh = (await claim()) as Lease;
      expect(texts(fresh)).toEqual(["x"]);
      expect(fresh.items[0]?.attempts).toBe(2);
      await expect(inbox.complete(stale, [stale.items[0]?.id ?? 0])).rejects.toBeInstanceOf(LeaseLostError);
      await expect(inbox.fail(stale, "late")).rejects.toBeInstanceOf(LeaseLostError);
      expect(await inbox.extend(stale, 1_000)).toBe(false);
      // The fenced calls changed nothing: the new holder completes normally.
      await inbox.complete(fresh, [fresh.items[0]?.id ?? 0]);
      expect(await inbox.stats()).toMatchObject({ pending: 0, done: 1, leased: 0 });
    });

    it("shows what arrived during a lease, and completing one of those leaves the rest queued", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "long task" })]);
      const lease = (await claim()) as Lease;
      expect(await inbox.arrivedSince(lease)).toEqual([]);
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "/cancel" })]);
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "next question" })]);
      await inbox.enqueue([makeEvent({ conversationKey: key(), text: "elsewhere" })]);
      const arrived = await inbox.arrivedSince(lease);
      expect(arrived.map((i) => (i.event.content.type === "message" ? i.event.content.text : ""))).toEqual([
        "/cancel",
        "next question",
      ]);
      await inbox.complete(lease, [arrived[0]?.id ?? 0], { keepLease: true });
      expect(await claim()).toMatchObject({ conversationKey: expect.not.stringMatching(conv) }); // still leased
      expect((await inbox.arrivedSince(lease)).map((i) => i.id)).toEqual([arrived[1]?.id]);
      await inbox.complete(
        lease,
        lease.items.map((i) => i.id),
      );
      expect(texts(await claim())).toEqual(["next question"]);
    });

    it("extends a live lease", async () => {
      await inbox.enqueue([makeEvent({ conversationKey: key() })]);
      const lease = (await claim(20, 1_000)) as Lease;
      clock += 900;
      expect(await inbox.extend(lease, 1_000)).toBe(true);
      clock += 900;
      expect(await claim()).toBeUndefined();
    });

    it("retries a failed item after a backoff, then dead-letters it, and the conversation moves on", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "poison" })]);
      let lease = (await claim(1)) as Lease;
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "next" })]);

      const first = await inbox.fail(lease, "agent crashed");
      expect(first).toEqual({ retryAt: clock + 1_000, deadLettered: [] });
      expect(await claim()).toBeUndefined(); // the head is backing off, and it gates the conversation
      clock += 1_000;
      lease = (await claim(1)) as Lease;
      expect(texts(lease)).toEqual(["poison"]);
      await inbox.fail(lease, "agent crashed");
      clock += 2_000;
      lease = (await claim(1)) as Lease;
      expect(lease.items[0]?.attempts).toBe(MAX_ATTEMPTS);
      const last = await inbox.fail(lease, "agent crashed again");
      expect(last.deadLettered).toEqual([lease.items[0]?.id]);

      expect(texts(await claim())).toEqual(["next"]);
      const dead = await inbox.listDeadLetters();
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({
        conversationKey: conv,
        attempts: MAX_ATTEMPTS,
        lastError: "agent crashed again",
      });
    });

    it("dead-letters an item whose consumers keep dying (leases expire) without a fail()", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "crashy" })]);
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        expect(await claim(20, 1_000)).toBeDefined();
        clock += 1_001;
      }
      expect(await claim()).toBeUndefined();
      expect((await inbox.listDeadLetters())[0]?.lastError).toMatch(/maximum number of times/);
    });

    it("an operator can retry a dead letter", async () => {
      const conv = key();
      await inbox.enqueue([makeEvent({ conversationKey: conv, text: "again" })]);
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const lease = (await claim()) as Lease;
        await inbox.fail(lease, "boom");
        clock += 10_000;
      }
      const [dead] = await inbox.listDeadLetters();
      expect(await inbox.retryDeadLetter(dead?.id ?? 0)).toBe(true);
      expect(await inbox.retryDeadLetter(dead?.id ?? 0)).toBe(false); // no longer dead
      const lease = await claim();
      expect(texts(lease)).toEqual(["again"]);
      expect(lease?.items[0]?.attempts).toBe(1);
      expect(await inbox.listDeadLetters()).toEqual([]);
    });

    it("release gives the items back at once without charging an attempt", async () => {
      await inbox.enqueue([makeEvent({ conversationKey: key(), text: "r" })]);
      const lease = (await claim()) as Lease;
      await inbox.release(lease);
      const again = await claim();
      expect(texts(again)).toEqual(["r"]);
      expect(again?.items[0]?.attempts).toBe(1);
    });

    it("release with a delay holds the conversation back that long, still without charging attempts", async () => {
      await inbox.enqueue([makeEvent({ conversationKey: key(), text: "later" })]);
      for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
        const lease = (await claim()) as Lease;
        await inbox.release(lease, { retryInMs: 5_000, reason: "host down" });
        expect(await claim()).toBeUndefined();
        clock += 5_000;
      }
      const again = await claim();
      expect(texts(again)).toEqual(["later"]);
      expect(again?.items[0]?.attempts).toBe(1);
      expect(await inbox.listDeadLetters()).toEqual([]);
    });

    it("purges handled items after the retention period, keeping dedupe until then", async () => {
      const event = makeEvent({ conversationKey: key() });
      await inbox.enqueue([event]);
      const lease = (await claim()) as Lease;
      await inbox.complete(lease, [lease.items[0]?.id ?? 0]);
      clock += RETENTION_MS - 1;
      expect(await inbox.purge()).toBe(0);
      expect((await inbox.enqueue([event]))[0]?.status).toBe("duplicate");
      clock += 2;
      expect(await inbox.purge()).toBe(1);
    });

    it("reports stats", async () => {
      const conv = key();
      await inbox.enqueue([
        makeEvent({ conversationKey: conv, receivedAt: clock }),
        makeEvent({ conversationKey: key(), receivedAt: clock + 1 }),
      ]);
      clock += 5_000;
      await claim();
      expect(await inbox.stats()).toEqual({
        pending: 2,
        done: 0,
        dead: 0,
        leased: 1,
        oldestPendingAgeMs: 5_000,
      });
    });

    it("accepts many concurrent enqueues, each durable and counted once", async () => {
      const events = Array.from({ length: 200 }, (_, i) => makeEvent({ conversationKey: `burst-${i % 7}` }));
      const outcomes = await Promise.all(events.map((e) => inbox.enqueue([e])));
      expect(outcomes.flat().every((o) => o.status === "accepted")).toBe(true);
      const again = await Promise.all(events.slice(0, 50).map((e) => inbox.enqueue([e])));
      expect(again.flat().every((o) => o.status === "duplicate")).toBe(true);
      expect((await inbox.stats()).pending).toBe(200);
    });

    it("competing consumers process every item exactly once, in order per conversation", async () => {
      const conversations = Array.from({ length: 12 }, () => key());
      const sent = new Map<string, string[]>();
      for (let i = 0; i < 120; i++) {
        const conv = conversations[i % conversations.length] as string;
        const text = `${conv}#${i}`;
        sent.set(conv, [...(sent.get(conv) ?? []), text]);
        await inbox.enqueue([makeEvent({ conversationKey: conv, text })]);
      }
      const seen = new Map<string, string[]>();
      const active = new Set<string>();
      let overlaps = 0;
      const consumer = async () => {
        for (;;) {
          const lease = await inbox.claim({ consumer: "c", leaseMs: 60_000, maxItems: 3 });
          if (!lease) return;
          if (active.has(lease.conversationKey)) overlaps++;
          active.add(lease.conversationKey);
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          seen.set(lease.conversationKey, [
            ...(seen.get(lease.conversationKey) ?? []),
            ...(texts(lease) ?? []),
          ]);
          active.delete(lease.conversationKey);
          await inbox.complete(
            lease,
            lease.items.map((i) => i.id),
          );
        }
      };
      await Promise.all(Array.from({ length: 6 }, consumer));
      expect(overlaps).toBe(0);
      expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(sent));
    });
  });
}
