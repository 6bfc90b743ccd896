import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../config/index.ts";
import { type DatabaseHandle, openStore } from "../store/index.ts";
import { createOutbox, type KyselyOutbox } from "./outbox.ts";
import type { ClaimedMessage, OutboundMessage } from "./port.ts";

const LEASE_MS = 30_000;

/** The behaviour every outbox must have, run against SQLite and PostgreSQL with a fake clock. */
export function describeOutboxContract(
  name: string,
  setup: () => Promise<{ database: DatabaseConfig; dispose: () => Promise<void> }>,
): void {
  describe(`Outbox contract: ${name}`, () => {
    let handle: DatabaseHandle;
    let closeStore: () => Promise<void>;
    let dispose: () => Promise<void>;
    let outbox: KyselyOutbox;
    let clock: number;
    let seq = 0;

    const message = (conversationKey: string, text = `text ${++seq}`): OutboundMessage => ({
      idempotencyKey: `turn:${name}:${++seq}`,
      platform: "telegram",
      conversationKey,
      reply: { platform: "telegram", chatId: 42, messageThreadId: 7, messageId: seq },
      inboundReceivedAt: clock - 1_000,
      text,
    });
    const claim = (limit = 10, owner = "d1") => outbox.claim({ owner, leaseMs: LEASE_MS, limit });
    const texts = (claims: ClaimedMessage[]) => claims.map((c) => c.text).sort();

    beforeAll(async () => {
      const db = await setup();
      dispose = db.dispose;
      const opened = await openStore(db.database);
      handle = opened.handle;
      closeStore = () => opened.store.close();
    });
    afterAll(async () => {
      await closeStore();
      await dispose();
    });
    beforeEach(async () => {
      await handle.db.deleteFrom("outbox").execute();
      clock = 1_800_000_000_000;
      outbox = createOutbox(handle, { now: () => clock });
    });

    it("records a message once per idempotency key", async () => {
      const m = message("c1");
      expect(await outbox.has(m.idempotencyKey)).toBe(false);
      expect(await outbox.enqueue(m)).toBe(true);
      expect(await outbox.enqueue({ ...m, text: "a different text" })).toBe(false);
      expect(await outbox.has(m.idempotencyKey)).toBe(true);
      const stored = await outbox.get(m.idempotencyKey);
      expect(stored).toMatchObject({ ...m, status: "pending", attempts: 0, chunksSent: 0, createdAt: clock });
      expect(stored?.reply).toEqual(m.reply);
      expect(await outbox.pending()).toHaveLength(1);
      expect(await outbox.get("missing")).toBeUndefined();
    });

    it("drops an agent file's bytes once it is sent", async () => {
      const file = { name: "chart.png", mediaType: "image/png", dataBase64: "iVBORw0KGgo=" };
      const m = { ...message("c-file"), extras: { followup: true, file } };
      await outbox.enqueue(m);
      const [claimed] = await claim();
      expect(claimed?.extras?.file?.dataBase64).toBe(file.dataBase64);
      if (claimed) expect(await outbox.markSent(claimed)).toBe(true);
      const stored = await outbox.get(m.idempotencyKey);
      expect(stored?.extras?.file).toEqual({ ...file, dataBase64: "" });
      expect(stored?.extras?.followup).toBe(true);
    });

    it("refuses a reply context of another platform", async () => {
      const m = message("c1");
      await expect(outbox.enqueue({ ...m, reply: { platform: "webchat", sessionId: "s" } })).rejects.toThrow(
        /reply context/,
      );
    });

    it("lists pending messages oldest first, up to a limit", async () => {
      for (const t of ["a", "b", "c"]) await outbox.enqueue(message(`c-${t}`, t));
      expect((await outbox.pending()).map((r) => r.text)).toEqual(["a", "b", "c"]);
      expect((await outbox.pending(2)).map((r) => r.text)).toEqual(["a", "b"]);
      const [first] = await claim(1);
      if (!first) throw new Error("nothing claimed");
      await outbox.markSent(first);
      expect((await outbox.pending()).map((r) => r.text)).toEqual(["b", "c"]);
    });

    it("hands out only the head of each conversation, and each head once", async () => {
      await outbox.enqueue(message("A", "a1"));
      await outbox.enqueue(message("A", "a2"));
      await outbox.enqueue(message("B", "b1"));
      const first = await claim();
      expect(texts(first)).toEqual(["a1", "b1"]);
      expect(first.every((c) => c.attempts === 1)).toBe(true);
      expect(await claim()).toEqual([]);
      // The next message of A becomes claimable only once a1 is sent.
      const a1 = first.find((c) => c.text === "a1");
      if (!a1) throw new Error("a1 not claimed");
      expect(await outbox.markSent(a1)).toBe(true);
      expect(texts(await claim())).toEqual(["a2"]);
      expect((await outbox.get(a1.idempotencyKey))?.status).toBe("sent");
    });

    it("records chunks under the lease and gives an expired lease to the next claimer", async () => {
      await outbox.enqueue(message("A", "a1"));
      const [c1] = await claim();
      if (!c1) throw new Error("not claimed");
      expect(await outbox.recordChunks(c1, 1, LEASE_MS)).toBe(true);
      clock += LEASE_MS + 1;
      const [c2] = await claim(10, "d2");
      expect(c2?.chunksSent).toBe(1);
      expect(c2?.attempts).toBe(2);
      // The first dispatcher lost its lease: every change it tries is refused.
      expect(await outbox.recordChunks(c1, 2, LEASE_MS)).toBe(false);
      expect(await outbox.markSent(c1)).toBe(false);
      expect(await outbox.markFailed(c1, "x")).toBe(false);
      expect(await outbox.retryLater(c1, { at: clock, error: null, countTry: true })).toBe(false);
      if (!c2) throw new Error("not reclaimed");
      expect(await outbox.markSent(c2)).toBe(true);
    });

    it("extends the lease with each chunk", async () => {
      await outbox.enqueue(message("A", "a1"));
      const [c1] = await claim();
      if (!c1) throw new Error("not claimed");
      clock += LEASE_MS - 1;
      expect(await outbox.recordChunks(c1, 1, LEASE_MS)).toBe(true);
      clock += LEASE_MS - 1;
      expect(await claim()).toEqual([]);
    });

    it("holds a retried message and the conversation behind it until it is due", async () => {
      await outbox.enqueue(message("A", "a1"));
      await outbox.enqueue(message("A", "a2"));
      await outbox.enqueue(message("B", "b1"));
      const claims = await claim();
      const a1 = claims.find((c) => c.text === "a1");
      const b1 = claims.find((c) => c.text === "b1");
      if (!a1 || !b1) throw new Error("not claimed");
      await outbox.retryLater(a1, { at: clock + 5_000, error: "429", countTry: false });
      await outbox.retryLater(b1, { at: clock, error: "500", countTry: true });
      expect(texts(await claim())).toEqual(["b1"]);
      clock += 5_000;
      const [again] = await claim();
      expect(again).toMatchObject({ text: "a1", attempts: 1, lastError: "429" });
    });

    it("moves on past a failed message", async () => {
      await outbox.enqueue(message("A", "a1"));
      await outbox.enqueue(message("A", "a2"));
      const [a1] = await claim();
      if (!a1) throw new Error("not claimed");
      expect(await outbox.markFailed(a1, "403 forbidden")).toBe(true);
      expect(await outbox.get(a1.idempotencyKey)).toMatchObject({
        status: "failed",
        lastError: "403 forbidden",
      });
      expect(texts(await claim())).toEqual(["a2"]);
      expect((await outbox.pending()).map((r) => r.text)).toEqual(["a2"]);
    });

    it("never gives one message to two concurrent claimers", async () => {
      for (let i = 0; i < 40; i++) await outbox.enqueue(message(`conv-${i % 20}`, `m${i}`));
      const others = Array.from({ length: 4 }, () => createOutbox(handle, { now: () => clock }));
      const rounds = await Promise.all(
        others.flatMap((o, i) =>
          [1, 2, 3].map(() => o.claim({ owner: `d${i}`, leaseMs: LEASE_MS, limit: 3 })),
        ),
      );
      const ids = rounds.flat().map((c) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
      // Only heads: the first 20 messages, one per conversation.
      expect(rounds.flat().every((c) => Number(c.text.slice(1)) < 20)).toBe(true);
    });
  });
}
