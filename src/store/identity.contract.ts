import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../config/index.ts";
import { keyIdOf, LocalKeyProvider, SecretBox } from "../secrets/index.ts";
import { ConflictError } from "../shared/errors.ts";
import { openStore, type Store } from "./index.ts";

const box = (...keys: Buffer[]) =>
  new SecretBox(new LocalKeyProvider(keys.map((key) => ({ id: keyIdOf(key), key }))));

/**
 * People and their keys in the store (credentials sealed, access, one-time codes, linking), run against
 * each dialect (identity.sqlite.test.ts, identity.postgres.int.test.ts).
 */
export function describeIdentityContract(
  name: string,
  setup: () => Promise<{
    database: DatabaseConfig;
    dispose: () => Promise<void>;
    raw: () => Promise<string>;
  }>,
): void {
  describe(`Identity store: ${name}`, () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    let store: Store;
    let database: DatabaseConfig;
    let dispose: () => Promise<void>;
    let raw: () => Promise<string>;
    let now = 1_000_000;

    beforeAll(async () => {
      ({ database, dispose, raw } = await setup());
      ({ store } = await openStore(database, { secrets: box(k1), now: () => now }));
    });
    afterAll(async () => {
      await store.close();
      await dispose();
    });

    const user = (id: string) => store.identities.resolveUser({ platform: "telegram", platformUserId: id });

    it("stores credentials sealed: the database holds no value, another key cannot read them", async () => {
      const a = await user("cred-a");
      const secret = `sk-ant-api03-${randomBytes(24).toString("hex")}`;
      await store.credentials.put({ userId: a.id, slot: "claude", kind: "anthropic_api_key", value: secret });
      expect(await store.credentials.read(a.id, "claude")).toMatchObject({
        kind: "anthropic_api_key",
        value: secret,
        status: "ok",
      });
      expect(await raw()).not.toContain(secret);
      const stranger = await openStore(database, { secrets: box(k2) });
      try {
        await expect(stranger.store.credentials.read(a.id, "claude")).rejects.toThrow(/does not have/);
      } finally {
        await stranger.store.close();
      }
      const keyless = await openStore(database);
      try {
        await expect(keyless.store.credentials.read(a.id, "claude")).rejects.toThrow(/master key/);
        expect(await keyless.store.credentials.list(a.id)).toMatchObject([{ kind: "anthropic_api_key" }]);
      } finally {
        await keyless.store.close();
      }
    });

    it("marks a credential rejected once; a new one is ok again", async () => {
      const a = await user("cred-r");
      await store.credentials.put({
        userId: a.id,
        slot: "claude",
        kind: "claude_oauth_token",
        value: "sk-ant-oat01-xxxxxxxxxxxxxxxxxxxxxxxx",
      });
      const marks = await Promise.all([1, 2, 3].map(() => store.credentials.markRejected(a.id, "claude")));
      expect(marks.filter(Boolean)).toHaveLength(1);
      expect((await store.credentials.list(a.id))[0]?.status).toBe("rejected");
      await store.credentials.put({
        userId: a.id,
        slot: "claude",
        kind: "claude_oauth_token",
        value: "sk-ant-oat01-yyyyyyyyyyyyyyyyyyyyyyyy",
      });
      expect((await store.credentials.list(a.id))[0]?.status).toBe("ok");
      expect(await store.credentials.remove(a.id)).toBe(1);
      expect(await store.credentials.read(a.id, "claude")).toBeUndefined();
    });

    it("rotation re-wraps every credential under the new key and each stays readable", async () => {
      const users = await Promise.all(["rot-1", "rot-2", "rot-3"].map(user));
      for (const [i, u] of users.entries())
        await store.credentials.put({
          userId: u.id,
          slot: "github",
          kind: "github_token",
          value: `ghp_${"a".repeat(36)}${i}`,
        });
      const rotated = await openStore(database, { secrets: box(k2, k1) });
      try {
        expect(await rotated.store.credentials.rewrapAll()).toBeGreaterThanOrEqual(3);
        expect(Object.keys(await rotated.store.credentials.keyUsage())).toEqual([keyIdOf(k2)]);
      } finally {
        await rotated.store.close();
      }
      const onlyNew = await openStore(database, { secrets: box(k2) });
      try {
        for (const [i, u] of users.entries())
          expect((await onlyNew.store.credentials.read(u.id, "github"))?.value).toBe(
            `ghp_${"a".repeat(36)}${i}`,
          );
        const a = await onlyNew.store.identities.find("telegram", "cred-a");
        expect((await onlyNew.store.credentials.read(a?.userId ?? "", "claude"))?.value).toMatch(
          /^sk-ant-api03-/,
        );
      } finally {
        await onlyNew.store.close();
      }
    });

    it("one-time codes: stored hashed, used once under concurrency, expire, can be withdrawn", async () => {
      const a = await user("codes-a");
      await store.codes.create({
        code: "ABCD1234",
        purpose: "link",
        userId: a.id,
        ttlMs: 60_000,
        data: { x: 1 },
      });
      expect(await raw()).not.toContain("ABCD1234");
      expect(await store.codes.peek("invite", "ABCD1234")).toBeUndefined(); // another purpose
      expect(await store.codes.peek("link", "ABCD1234")).toMatchObject({ userId: a.id, data: { x: 1 } });
      const tries = await Promise.all(
        Array.from({ length: 10 }, () => store.codes.redeem("link", "ABCD1234")),
      );
      expect(tries.filter((t) => t !== undefined)).toHaveLength(1);
      expect(await store.codes.redeem("link", "ABCD1234")).toBeUndefined();
      await store.codes.create({ code: "LATE", purpose: "invite", userId: a.id, ttlMs: 1_000 });
      now += 2_000;
      expect(await store.codes.redeem("invite", "LATE")).toBeUndefined();
      await store.codes.create({ code: "WITHDRAWN", purpose: "connect", userId: a.id, ttlMs: 60_000 });
      expect(await store.codes.revoke(a.id, "connect")).toBe(1);
      expect(await store.codes.peek("connect", "WITHDRAWN")).toBeUndefined();
    });

    it("access: admit, suspend, and remove a person (credentials go, identities stay blocked)", async () => {
      const a = await user("acc-a");
      expect(await store.access.get(a.id)).toBeUndefined();
      expect(await store.access.set(a.id, { invitedBy: "someone" })).toMatchObject({
        status: "active",
        serverCredential: false,
        invitedBy: "someone",
      });
      expect(await store.access.set(a.id, { status: "suspended" })).toMatchObject({
        status: "suspended",
        invitedBy: "someone",
      });
      await store.access.set(a.id, { status: "active", serverCredential: true });
      expect((await store.access.get(a.id))?.serverCredential).toBe(true);
      await store.credentials.put({
        userId: a.id,
        slot: "claude",
        kind: "anthropic_api_key",
        value: "sk-ant-api03-zzzzzzzzzzzzzzzzzzzzzzzz",
      });
      await store.access.removeUser(a.id);
      expect(await store.credentials.list(a.id)).toEqual([]);
      expect(await store.access.get(a.id)).toMatchObject({ status: "removed", serverCredential: false });
      // Writing again finds the removed person, not a stranger (so open mode cannot let them back in).
      expect((await user("acc-a")).id).toBe(a.id);
    });

    it("moves an identity to another user (/link) and detaches it again (/unlink)", async () => {
      const a = await user("link-a");
      const b = await user("link-b");
      await store.identities.move({ platform: "telegram", platformUserId: "link-b", userId: a.id });
      expect((await user("link-b")).id).toBe(a.id);
      await expect(store.identities.unlink("telegram", "nobody")).rejects.toThrow(/not known/);
      const detached = await store.identities.unlink("telegram", "link-b");
      expect(detached.id).not.toBe(a.id);
      expect(detached.id).not.toBe(b.id);
      expect((await user("link-b")).id).toBe(detached.id);
      await expect(store.identities.unlink("telegram", "link-a")).rejects.toBeInstanceOf(ConflictError);
      expect((await store.users.list()).some((u) => u.id === a.id)).toBe(true);
    });
  });
}
