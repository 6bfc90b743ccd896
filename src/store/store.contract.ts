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
      expect(created).toMatchObject({ key, kind: "group", title: "Ops" });
      expect(await store.conversations.sessionOf(key, "vm-1")).toBeNull();
      await store.conversations.setAgentSession(key, "vm-1", "sess-abc");
      await store.conversations.setAgentSession(key, "sb-2", "sess-def");
      const refreshed = await store.conversations.upsert({ key, platform: "telegram", kind: "group" });
      expect(refreshed).toMatchObject({ title: "Ops" });
      expect(refreshed.updatedAt).toBeGreaterThanOrEqual(created.updatedAt);
      // One session per agent: a session id means something only where its transcript lives.
      expect(await store.conversations.sessionOf(key, "vm-1")).toBe("sess-abc");
      expect(await store.conversations.sessionOf(key, "sb-2")).toBe("sess-def");
      await store.conversations.setAgentSession(key, "vm-1", "sess-xyz");
      expect(await store.conversations.sessionOf(key, "vm-1")).toBe("sess-xyz");
      await store.conversations.setAgentSession(key, "vm-1", null);
      expect(await store.conversations.sessionOf(key, "vm-1")).toBeNull();
      expect(await store.conversations.sessionOf(key, "sb-2")).toBe("sess-def");
    });

    it("rejects a session for an unknown conversation and changes nothing", async () => {
      await expect(store.conversations.setAgentSession("nope", "sb-1", "s")).rejects.toThrow(
        /does not exist/,
      );
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

    it("creates projects with unique names and binds conversations to them", async () => {
      const owner = await store.identities.resolveUser({ platform: "telegram", platformUserId: "owner-1" });
      const project = await store.projects.create({ name: "shop-api", ownerUserId: owner.id });
      await expect(store.projects.create({ name: "shop-api", ownerUserId: owner.id })).rejects.toBeInstanceOf(
        ConflictError,
      );
      await expect(store.projects.create({ name: "Bad Name", ownerUserId: owner.id })).rejects.toThrow(
        /invalid/,
      );
      expect(await store.projects.byName("shop-api")).toEqual(project);
      expect(await store.projects.bindingOf("telegram:-100")).toBeUndefined();
      await store.projects.bind("telegram:-100", project.id, owner.id);
      expect(await store.projects.bindingOf("telegram:-100")).toMatchObject({ projectId: project.id });
      expect(await store.projects.unbind("telegram:-100")).toBe(true);
      expect(await store.projects.unbind("telegram:-100")).toBe(false);
    });

    it("closes idempotently", async () => {
      const extra = await openStore(database);
      await Promise.all([extra.store.close(), extra.store.close()]);
      await extra.store.close();
    });
  });
}
