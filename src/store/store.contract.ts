import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../config/index.ts";
import { ConflictError } from "../shared/errors.ts";
import { openStore, type Store } from "./index.ts";

/**
 * The behaviour every Store must have, run against each dialect (store.sqlite.test.ts,
 * store.postgres.int.test.ts). `setup` returns a fresh, empty database and a way to dispose of it.
 */
export function describeStoreContract(
  name: string,
  setup: () => Promise<{ database: DatabaseConfig; dispose: () => Promise<void> }>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let database: DatabaseConfig;
    let dispose: () => Promise<void>;

    beforeAll(async () => {
      ({ database, dispose } = await setup());
      ({ store } = await openStore(database));
    });
    afterAll(async () => {
      await store.close();
      await dispose();
    });

    it("reports itself healthy and fully migrated", async () => {
      const health = await store.health();
      expect(health).toMatchObject({ ok: true, pendingMigrations: 0 });
      expect(health.appliedMigrations).toBeGreaterThan(0);
    });

    it("re-opening applies nothing and keeps data", async () => {
      const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "reopen" });
      const again = await openStore(database);
      try {
        expect(again.appliedMigrations).toEqual([]);
        expect(await again.store.users.get(user.id)).toEqual(user);
      } finally {
        await again.store.close();
      }
    });

    it("resolves an identity to the same user every time", async () => {
      const first = await store.identities.resolveUser({
        platform: "line",
        platformUserId: "U1",
        displayName: "Mei",
      });
      const second = await store.identities.resolveUser({ platform: "line", platformUserId: "U1" });
      expect(second).toEqual(first);
      expect(first.displayName).toBe("Mei");
      expect(await store.users.get(first.id)).toEqual(first);
      expect(await store.identities.find("line", "U1")).toMatchObject({
        userId: first.id,
        displayName: "Mei",
      });
    });

    it("creates exactly one user under concurrent first contact", async () => {
      const users = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.identities.resolveUser({ platform: "slack", platformUserId: "T1:U9" }),
        ),
      );
      expect(new Set(users.map((u) => u.id)).size).toBe(1);
      expect(await store.identities.listForUser(users[0]?.id ?? "")).toHaveLength(1);
    });

    it("links identities across platforms and refuses to steal one", async () => {
      const alice = await store.identities.resolveUser({ platform: "telegram", platformUserId: "1001" });
      const bob = await store.identities.resolveUser({ platform: "telegram", platformUserId: "2002" });
      await store.identities.link({ platform: "discord", platformUserId: "d-1", userId: alice.id });
      // Linking again to the same user is a no-op, not an error.
      await store.identities.link({ platform: "discord", platformUserId: "d-1", userId: alice.id });
      await expect(
        store.identities.link({ platform: "discord", platformUserId: "d-1", userId: bob.id }),
      ).rejects.toBeInstanceOf(ConflictError);
      const linked = await store.identities.listForUser(alice.id);
      expect(linked.map((i) => `${i.platform}:${i.platformUserId}`).sort()).toEqual([
        "discord:d-1",
        "telegram:1001",
      ]);
      expect(await store.identities.listForUser(bob.id)).toHaveLength(1);
    });

    it("keeps a conversation's agent session across upserts", async () => {
      const key = "telegram:-100123:topic:7";
      const created = await store.conversations.upsert({
        key,
        platform: "telegram",
        kind: "group",
        title: "Ops",
      });
      expect(created).toMatchObject({ key, kind: "group", title: "Ops", agentSessionId: null });
      await store.conversations.setAgentSession(key, "sess-abc");
      const refreshed = await store.conversations.upsert({ key, platform: "telegram", kind: "group" });
      expect(refreshed).toMatchObject({ title: "Ops", agentSessionId: "sess-abc" });
      expect(refreshed.updatedAt).toBeGreaterThanOrEqual(created.updatedAt);
      await store.conversations.setAgentSession(key, null);
      expect((await store.conversations.get(key))?.agentSessionId).toBeNull();
    });

    it("rejects a session for an unknown conversation and changes nothing", async () => {
      await expect(store.conversations.setAgentSession("nope", "s")).rejects.toThrow(/does not exist/);
      expect(await store.conversations.get("nope")).toBeUndefined();
    });

    it("stores non-ASCII text intact", async () => {
      const user = await store.identities.resolveUser({
        platform: "line",
        platformUserId: "U-zh",
        displayName: "陳小明 🚀",
      });
      expect((await store.users.get(user.id))?.displayName).toBe("陳小明 🚀");
    });

    it("keeps transport cursors as JSON, last write wins", async () => {
      expect(await store.transportState.get("discord:gateway")).toBeUndefined();
      await store.transportState.set("discord:gateway", { sessionId: "abc", sequence: 41 });
      await store.transportState.set("discord:gateway", { sessionId: "abc", sequence: 42 });
      expect(await store.transportState.get("discord:gateway")).toEqual({ sessionId: "abc", sequence: 42 });
      await store.transportState.delete("discord:gateway");
      expect(await store.transportState.get("discord:gateway")).toBeUndefined();
    });

    it("closes idempotently", async () => {
      const extra = await openStore(database);
      await Promise.all([extra.store.close(), extra.store.close()]);
      await extra.store.close();
    });
  });
}
