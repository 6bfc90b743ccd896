import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { SealedPlace, SecretBox } from "../secrets/envelope.ts";
import { sealedKeyId } from "../secrets/envelope.ts";
import { knownSecrets } from "../secrets/redact.ts";
import type {
  AccessRepository,
  AccessStatus,
  CodePurpose,
  CredentialInfo,
  CredentialKind,
  CredentialRepository,
  CredentialSlot,
  OneTimeCode,
  OneTimeCodeRepository,
  UserAccess,
} from "./port.ts";
import type { Database } from "./schema.ts";

/** Where a credential's sealed value lives: its associated data, so it opens only in its own row. */
function placeOf(userId: string, slot: string): SealedPlace {
  return { table: "credentials", column: "value", row: `${userId}/${slot}` };
}

export class KyselyCredentials implements CredentialRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  readonly #box: SecretBox | undefined;
  constructor(db: Kysely<Database>, now: () => number, box: SecretBox | undefined) {
    this.#db = db;
    this.#now = now;
    this.#box = box;
  }

  #sealer(): SecretBox {
    if (!this.#box) throw new Error("credentials need the master key; this store was opened without one");
    return this.#box;
  }

  async put(input: { userId: string; slot: CredentialSlot; kind: CredentialKind; value: string }) {
    const value = await this.#sealer().seal(input.value, placeOf(input.userId, input.slot));
    const now = this.#now();
    const key_id = sealedKeyId(value);
    await this.#db
      .insertInto("credentials")
      .values({
        user_id: input.userId,
        slot: input.slot,
        kind: input.kind,
        value,
        key_id,
        status: "ok",
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(["user_id", "slot"])
          .doUpdateSet({ kind: input.kind, value, key_id, status: "ok", updated_at: now }),
      )
      .execute();
    knownSecrets.add(input.value);
  }

  async read(userId: string, slot: CredentialSlot) {
    const row = await this.#db
      .selectFrom("credentials")
      .selectAll()
      .where("user_id", "=", userId)
      .where("slot", "=", slot)
      .executeTakeFirst();
    if (!row) return undefined;
    const value = await this.#sealer().open(row.value, placeOf(userId, slot));
    knownSecrets.add(value);
    return { ...toInfo(row), value };
  }

  async list(userId: string): Promise<CredentialInfo[]> {
    const rows = await this.#db
      .selectFrom("credentials")
      .select(["user_id", "slot", "kind", "status", "key_id", "updated_at"])
      .where("user_id", "=", userId)
      .orderBy("slot")
      .execute();
    return rows.map(toInfo);
  }

  async remove(userId: string, slot?: CredentialSlot): Promise<number> {
    let query = this.#db.deleteFrom("credentials").where("user_id", "=", userId);
    if (slot) query = query.where("slot", "=", slot);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async markRejected(userId: string, slot: CredentialSlot): Promise<boolean> {
    const result = await this.#db
      .updateTable("credentials")
      .set({ status: "rejected", updated_at: this.#now() })
      .where("user_id", "=", userId)
      .where("slot", "=", slot)
      .where("status", "=", "ok")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async keyUsage(): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom("credentials")
      .select((eb) => ["key_id", eb.fn.countAll<string | number>().as("n")])
      .groupBy("key_id")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key_id, Number(r.n)]));
  }

  async removeUnderKeys(keyIds: readonly string[]): Promise<number> {
    if (keyIds.length === 0) return 0;
    const result = await this.#db
      .deleteFrom("credentials")
      .where("key_id", "in", [...keyIds])
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async rewrapAll(): Promise<number> {
    const box = this.#sealer();
    const rows = await this.#db
      .selectFrom("credentials")
      .select(["user_id", "slot", "value"])
      .where("key_id", "!=", box.currentKeyId)
      .execute();
    let changed = 0;
    for (const row of rows) {
      const value = await box.rewrap(row.value, placeOf(row.user_id, row.slot));
      // Only if nobody replaced the value meanwhile.
      const result = await this.#db
        .updateTable("credentials")
        .set({ value, key_id: box.currentKeyId })
        .where("user_id", "=", row.user_id)
        .where("slot", "=", row.slot)
        .where("value", "=", row.value)
        .executeTakeFirst();
      changed += Number(result.numUpdatedRows);
    }
    return changed;
  }
}

function toInfo(row: {
  user_id: string;
  slot: string;
  kind: string;
  status: "ok" | "rejected";
  key_id: string;
  updated_at: number;
}): CredentialInfo {
  return {
    userId: row.user_id,
    slot: row.slot as CredentialSlot,
    kind: row.kind as CredentialKind,
    status: row.status,
    keyId: row.key_id,
    updatedAt: row.updated_at,
  };
}

export class KyselyAccess implements AccessRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async get(userId: string): Promise<UserAccess | undefined> {
    const row = await this.#db
      .selectFrom("user_access")
      .selectAll()
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row && toAccess(row);
  }

  async set(
    userId: string,
    change: { status?: AccessStatus; serverCredential?: boolean; invitedBy?: string | null },
  ): Promise<UserAccess> {
    const now = this.#now();
    const updates = {
      ...(change.status !== undefined && { status: change.status }),
      ...(change.serverCredential !== undefined && { server_credential: change.serverCredential ? 1 : 0 }),
      ...(change.invitedBy !== undefined && { invited_by: change.invitedBy }),
      updated_at: now,
    };
    await this.#db
      .insertInto("user_access")
      .values({
        user_id: userId,
        status: change.status ?? "active",
        server_credential: change.serverCredential ? 1 : 0,
        invited_by: change.invitedBy ?? null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("user_id").doUpdateSet(updates))
      .execute();
    const stored = await this.get(userId);
    if (!stored) throw new Error(`access of ${userId} vanished after writing it`);
    return stored;
  }

  async list(): Promise<UserAccess[]> {
    const rows = await this.#db.selectFrom("user_access").selectAll().orderBy("created_at").execute();
    return rows.map(toAccess);
  }

  async removeUser(userId: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      // The identities stay with the removed user: their next message finds a removed person (refused),
      // not a stranger that open mode would let in.
      await trx.deleteFrom("credentials").where("user_id", "=", userId).execute();
      await trx.deleteFrom("one_time_codes").where("user_id", "=", userId).execute();
      const now = this.#now();
      await trx
        .insertInto("user_access")
        .values({ user_id: userId, status: "removed", invited_by: null, created_at: now, updated_at: now })
        .onConflict((oc) =>
          oc.column("user_id").doUpdateSet({ status: "removed", server_credential: 0, updated_at: now }),
        )
        .execute();
    });
  }
}

function toAccess(row: {
  user_id: string;
  status: AccessStatus;
  server_credential: number;
  invited_by: string | null;
  updated_at: number;
}): UserAccess {
  return {
    userId: row.user_id,
    status: row.status,
    serverCredential: Number(row.server_credential) === 1,
    invitedBy: row.invited_by,
    updatedAt: row.updated_at,
  };
}

export class KyselyCodes implements OneTimeCodeRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async create(input: { code: string; purpose: CodePurpose; userId: string; ttlMs: number; data?: unknown }) {
    const now = this.#now();
    await this.#db
      .insertInto("one_time_codes")
      .values({
        code_hash: hashCode(input.purpose, input.code),
        purpose: input.purpose,
        user_id: input.userId,
        data: input.data === undefined ? null : JSON.stringify(input.data),
        expires_at: now + input.ttlMs,
        used_at: null,
        created_at: now,
      })
      .execute();
    // Expired and used codes are of no further use: sweep them while here.
    await this.#db
      .deleteFrom("one_time_codes")
      .where((eb) => eb.or([eb("expires_at", "<", now - 86_400_000), eb("used_at", "<", now - 86_400_000)]))
      .execute();
  }

  async peek(purpose: CodePurpose, code: string): Promise<OneTimeCode | undefined> {
    const row = await this.#db
      .selectFrom("one_time_codes")
      .selectAll()
      .where("code_hash", "=", hashCode(purpose, code))
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .where("expires_at", ">", this.#now())
      .executeTakeFirst();
    return row && toCode(row);
  }

  async redeem(purpose: CodePurpose, code: string): Promise<OneTimeCode | undefined> {
    const now = this.#now();
    const row = await this.#db
      .updateTable("one_time_codes")
      .set({ used_at: now })
      .where("code_hash", "=", hashCode(purpose, code))
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returningAll()
      .executeTakeFirst();
    return row && toCode(row);
  }

  async revoke(userId: string, purpose: CodePurpose): Promise<number> {
    const result = await this.#db
      .updateTable("one_time_codes")
      .set({ used_at: this.#now() })
      .where("user_id", "=", userId)
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}

function hashCode(purpose: CodePurpose, code: string): string {
  return createHash("sha256").update(`${purpose}:${code}`).digest("hex");
}

function toCode(row: {
  purpose: string;
  user_id: string;
  data: string | null;
  expires_at: number;
}): OneTimeCode {
  return {
    purpose: row.purpose as CodePurpose,
    userId: row.user_id,
    data: row.data === null ? undefined : (JSON.parse(row.data) as unknown),
    expiresAt: row.expires_at,
  };
}
