import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../test/support/fakes/platform-simulator.ts";
import { createTempDatabase, type TempDatabase } from "../../test/support/postgres.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { OutboxDispatcher } from "./dispatcher.ts";
import { createOutbox } from "./outbox.ts";
import { createSenders } from "./senders/index.ts";
import { settled, simulatedPlatforms } from "./testing/harness.ts";
import { outbound } from "./testing/messages.ts";
import { WebchatHub } from "./webchat-hub.ts";

/**
 * Three dispatchers, each on its own connection pool as separate processes would be, share one
 * PostgreSQL outbox: every message goes out exactly once, and each conversation's in order.
 */
describe("OutboxDispatcher: competing dispatchers on PostgreSQL", () => {
  let sim: PlatformSimulator;
  let temp: TempDatabase;
  const stores: OpenedStore[] = [];

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    temp = await createTempDatabase();
    for (let i = 0; i < 3; i++) stores.push(await openStore({ kind: "postgres", url: temp.url }));
  });
  afterAll(async () => {
    for (const s of stores) await s.store.close();
    await temp.drop();
    await sim.close();
  });

  it("shares the work without duplicates or reordering", async () => {
    const [first] = stores;
    if (!first) throw new Error("no store");
    const outbox = createOutbox(first.handle);
    const keys: string[] = [];
    for (let n = 0; n < 5; n++) {
      for (let chat = 0; chat < 12; chat++) {
        const m = outbound({ platform: "telegram", chatId: 5000 + chat }, `chat ${chat} message ${n}`, {
          conversationKey: `telegram:${5000 + chat}`,
        });
        await outbox.enqueue(m);
        keys.push(m.idempotencyKey);
      }
    }
    sim.delay({ platform: "telegram", ms: 15, times: 30 });
    const dispatchers = stores.map(
      (s, i) =>
        new OutboxDispatcher({
          outbox: createOutbox(s.handle),
          senders: createSenders(simulatedPlatforms(sim.baseUrls()), new WebchatHub()),
          owner: `d${i}`,
          concurrency: 4,
          pollIntervalMs: 10,
        }),
    );
    for (const d of dispatchers) d.start();
    try {
      for (const key of keys) expect(await settled(outbox, key, 20_000)).toBe("sent");
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
    }
    expect(sim.calls({ endpoint: "sendMessage" })).toHaveLength(60);
    for (let chat = 0; chat < 12; chat++) {
      expect(sim.messagesTo(5000 + chat).map((m) => m.text)).toEqual(
        [0, 1, 2, 3, 4].map((n) => `chat ${chat} message ${n}`),
      );
    }
  });
});
