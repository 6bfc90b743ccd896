import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { SecretBox } from "../secrets/envelope.ts";
import { ConflictError, errorMessage } from "../shared/errors.ts";
import type { DatabaseHandle } from "./database.ts";
import { KyselyAccess, KyselyCodes, KyselyCredentials } from "./kysely-identity.ts";
import { KyselyProjects } from "./kysely-projects.ts";
import type {
  AccessRepository,
  Conversation,
  ConversationKind,
  ConversationRepository,
  CredentialRepository,
  Identity,
  IdentityRepository,
  KeyValueRepository,
  OneTimeCodeRepository,
  Platform,
  ProjectRepository,
  Store,
  StoreHealth,
  User,
  UserRepository,
} from "./port.ts";
import type { ConversationRow, Database, IdentityRow, UserRow } from "./schema.ts";

/** Which user a platform account belongs to (for `link` and `move`). */
interface IdentityInput {
  readonly platform: Platform;
  readonly platformUserId: string;
  readonly userId: string;
  readonly displayName?: string | null;
}

/** The Store over Kysely; the SQL is dialect-neutral, so one class serves SQLite and PostgreSQL. */
export class KyselyStore implements Store {
  readonly dialect: "sqlite" | "postgres";
  readonly users: UserRepository;
  readonly identities: IdentityRepository;
  readonly conversations: ConversationRepository;
  readonly transportState: KeyValueRepository;
  readonly projects: ProjectRepository;
  readonly credentials: CredentialRepository;
  readonly access: AccessRepository;
  readonly codes: OneTimeCodeRepository;
  readonly #handle: DatabaseHandle;
  readonly #now: () => number;
  #closing: Promise<void> | undefined;

  /** `secrets` seals and opens credentials; without it the store works but credentials cannot be used. */
  constructor(handle: DatabaseHandle, options: { now?: () => number; secrets?: SecretBox } = {}) {
    this.#handle = handle;
    this.#now = options.now ?? Date.now;
    this.dialect = handle.dialect;
    this.users = new KyselyUsers(handle.db);
    this.identities = new KyselyIdentities(handle.db, this.#now);
    this.conversations = new KyselyConversations(handle.db, this.#now);
    this.transportState = new KyselyTransportState(handle.db, this.#now);
    this.projects = new KyselyProjects(handle.db, this.#now);
    this.credentials = new KyselyCredentials(handle.db, this.#now, options.secrets);
    this.access = new KyselyAccess(handle.db, this.#now);
    this.codes = new KyselyCodes(handle.db, this.#now);
  }

  async health(): Promise<StoreHealth> {
    try {
      const migrations = await this.#handle.migrator.getMigrations();
      const applied = migrations.filter((m) => m.executedAt !== undefined).length;
      return {
        ok: applied === migrations.length,
        dialect: this.dialect,
        appliedMigrations: applied,
        pendingMigrations: migrations.length - applied,
      };
    } catch (error) {
      return {
        ok: false,
        dialect: this.dialect,
        appliedMigrations: 0,
        pendingMigrations: 0,
        error: errorMessage(error),
      };
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#handle.db.destroy();
    return this.#closing;
  }
}

class KyselyUsers implements UserRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(id: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toUser(row);
  }

  async list(): Promise<User[]> {
    const rows = await this.#db.selectFrom("users").selectAll().orderBy("created_at").orderBy("id").execute();
    return rows.map(toUser);
  }
}

class KyselyIdentities implements IdentityRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async find(platform: Platform, platformUserId: string): Promise<Identity | undefined> {
    const row = await this.#db
      .selectFrom("identities")
      .selectAll()
      .where("platform", "=", platform)
      .where("platform_user_id", "=", platformUserId)
      .executeTakeFirst();
    return row && toIdentity(row);
  }

  async listForUser(userId: string): Promise<Identity[]> {
    const rows = await this.#db
      .selectFrom("identities")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at")
      .orderBy("platform")
      .execute();
    return rows.map(toIdentity);
  }

  async resolveUser(input: {
    platform: Platform;
    platformUserId: string;
    displayName?: string | null;
  }): Promise<User> {
    const existing = await this.#userOf(input.platform, input.platformUserId);
    if (existing) return existing;

    // Race-free creation: insert the user and the identity in one transaction; if another caller linked
    // the identity first, `do nothing` inserts no identity row and we roll our user back and read theirs.
    const created = await this.#db
      .transaction()
      .execute(async (trx) => {
        const now = this.#now();
        const user: UserRow = { id: randomUUID(), display_name: input.displayName ?? null, created_at: now };
        await trx.insertInto("users").values(user).execute();
        const linked = await trx
          .insertInto("identities")
          .values({
            platform: input.platform,
            platform_user_id: input.platformUserId,
            user_id: user.id,
            display_name: input.displayName ?? null,
            created_at: now,
          })
          .onConflict((oc) => oc.columns(["platform", "platform_user_id"]).doNothing())
          .returning("user_id")
          .executeTakeFirst();
        if (!linked) throw new LostRace();
        return toUser(user);
      })
      .catch((error: unknown) => {
        if (error instanceof LostRace) return undefined;
        throw error;
      });
    if (created) return created;
    const winner = await this.#userOf(input.platform, input.platformUserId);
    if (!winner)
      throw new Error(`identity ${input.platform}:${input.platformUserId} vanished while resolving`);
    return winner;
  }

  async link(input: IdentityInput): Promise<Identity> {
    const inserted = await this.#db
      .insertInto("identities")
      .values(this.#identityRow(input))
      .onConflict((oc) => oc.columns(["platform", "platform_user_id"]).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return toIdentity(inserted);
    const current = await this.find(input.platform, input.platformUserId);
    if (current && current.userId === input.userId) return current;
    throw new ConflictError(`${input.platform}:${input.platformUserId} is already linked to another user`);
  }

  /** The identity row `link` and `move` insert: the same values, different conflict rules. */
  #identityRow(input: IdentityInput) {
    return {
      platform: input.platform,
      platform_user_id: input.platformUserId,
      user_id: input.userId,
      display_name: input.displayName ?? null,
      created_at: this.#now(),
    };
  }

  async move(input: IdentityInput): Promise<Identity> {
    const row = await this.#db
      .insertInto("identities")
      .values(this.#identityRow(input))
      .onConflict((oc) => oc.columns(["platform", "platform_user_id"]).doUpdateSet({ user_id: input.userId }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toIdentity(row);
  }

  async unlink(platform: Platform, platformUserId: string): Promise<User> {
    return this.#db.transaction().execute(async (trx) => {
      const identity = await trx
        .selectFrom("identities")
        .selectAll()
        .where("platform", "=", platform)
        .where("platform_user_id", "=", platformUserId)
        .executeTakeFirst();
      if (!identity) throw new Error(`${platform}:${platformUserId} is not known`);
      const siblings = await trx
        .selectFrom("identities")
        .select((eb) => eb.fn.countAll<string | number>().as("n"))
        .where("user_id", "=", identity.user_id)
        .executeTakeFirstOrThrow();
      if (Number(siblings.n) < 2)
        throw new ConflictError(`${platform}:${platformUserId} is not linked to anything`);
      const user: UserRow = {
        id: randomUUID(),
        display_name: identity.display_name,
        created_at: this.#now(),
      };
      await trx.insertInto("users").values(user).execute();
      await trx
        .updateTable("identities")
        .set({ user_id: user.id })
        .where("platform", "=", platform)
        .where("platform_user_id", "=", platformUserId)
        .execute();
      return toUser(user);
    });
  }

  async #userOf(platform: Platform, platformUserId: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom("identities")
      .innerJoin("users", "users.id", "identities.user_id")
      .select(["users.id", "users.display_name", "users.created_at"])
      .where("identities.platform", "=", platform)
      .where("identities.platform_user_id", "=", platformUserId)
      .executeTakeFirst();
    return row && toUser(row);
  }
}

class LostRace extends Error {}

class KyselyConversations implements ConversationRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async get(key: string): Promise<Conversation | undefined> {
    const row = await this.#db
      .selectFrom("conversations")
      .selectAll()
      .where("key", "=", key)
      .executeTakeFirst();
    return row && toConversation(row);
  }

  async upsert(input: {
    key: string;
    platform: Platform;
    kind: ConversationKind;
    title?: string | null;
    reply?: unknown;
  }): Promise<Conversation> {
    const now = this.#now();
    const reply = input.reply === undefined ? null : JSON.stringify(input.reply);
    const row = await this.#db
      .insertInto("conversations")
      .values({
        key: input.key,
        platform: input.platform,
        kind: input.kind,
        title: input.title ?? null,
        agent_session_id: null,
        created_at: now,
        updated_at: now,
        reply,
      })
      .onConflict((oc) =>
        oc.column("key").doUpdateSet((eb) => ({
          // Keep a known title when the caller has none to offer.
          title: input.title === undefined ? eb.ref("conversations.title") : input.title,
          reply: reply === null ? eb.ref("conversations.reply") : reply,
          updated_at: now,
          version: eb(eb.ref("conversations.version"), "+", 1),
        })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toConversation(row);
  }

  async replyOf<T>(key: string): Promise<T | undefined> {
    const row = await this.#db
      .selectFrom("conversations")
      .select("reply")
      .where("key", "=", key)
      .executeTakeFirst();
    return row?.reply ? (JSON.parse(row.reply) as T) : undefined;
  }

  async noteParticipant(key: string, userId: string, displayName?: string | null): Promise<void> {
    const now = this.#now();
    await this.#db
      .insertInto("conversation_participants")
      .values({
        conversation_key: key,
        user_id: userId,
        display_name: displayName ?? null,
        last_seen_at: now,
      })
      .onConflict((oc) =>
        oc.columns(["conversation_key", "user_id"]).doUpdateSet((eb) => ({
          display_name:
            displayName === undefined || displayName === null
              ? eb.ref("conversation_participants.display_name")
              : displayName,
          last_seen_at: now,
        })),
      )
      .execute();
  }

  async ofUser(userId: string): Promise<Array<Conversation & { readonly lastSeenAt: number }>> {
    const rows = await this.#db
      .selectFrom("conversation_participants as p")
      .innerJoin("conversations as c", "c.key", "p.conversation_key")
      .selectAll("c")
      .select("p.last_seen_at")
      .where("p.user_id", "=", userId)
      .orderBy("p.last_seen_at", "desc")
      .execute();
    return rows.map((r) => ({ ...toConversation(r), lastSeenAt: r.last_seen_at }));
  }

  async participants(
    key: string,
  ): Promise<Array<{ userId: string; displayName: string | null; lastSeenAt: number }>> {
    const rows = await this.#db
      .selectFrom("conversation_participants")
      .selectAll()
      .where("conversation_key", "=", key)
      .orderBy("last_seen_at", "desc")
      .execute();
    return rows.map((r) => ({ userId: r.user_id, displayName: r.display_name, lastSeenAt: r.last_seen_at }));
  }

  async sessionOf(key: string, agent: string): Promise<string | null> {
    const row = await this.#db
      .selectFrom("agent_sessions")
      .select("session_id")
      .where("conversation_key", "=", key)
      .where("agent", "=", agent)
      .executeTakeFirst();
    return row?.session_id ?? null;
  }

  async setAgentSession(key: string, agent: string, sessionId: string | null): Promise<void> {
    if (!(await this.get(key))) throw new Error(`conversation ${key} does not exist`);
    if (sessionId === null) {
      await this.#db
        .deleteFrom("agent_sessions")
        .where("conversation_key", "=", key)
        .where("agent", "=", agent)
        .execute();
      return;
    }
    const now = this.#now();
    await this.#db
      .insertInto("agent_sessions")
      .values({ conversation_key: key, agent, session_id: sessionId, updated_at: now })
      .onConflict((oc) =>
        oc.columns(["conversation_key", "agent"]).doUpdateSet({ session_id: sessionId, updated_at: now }),
      )
      .execute();
  }
}

class KyselyTransportState implements KeyValueRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.#db
      .selectFrom("transport_state")
      .select("value")
      .where("key", "=", key)
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    const now = this.#now();
    await this.#db
      .insertInto("transport_state")
      .values({ key, value: json, updated_at: now })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: json, updated_at: now }))
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.#db.deleteFrom("transport_state").where("key", "=", key).execute();
  }
}

function toUser(row: UserRow): User {
  return { id: row.id, displayName: row.display_name, createdAt: row.created_at };
}

function toIdentity(row: IdentityRow): Identity {
  return {
    platform: row.platform as Platform,
    platformUserId: row.platform_user_id,
    userId: row.user_id,
    displayName: row.display_name,
    createdAt: row.created_at,
  };
}

function toConversation(row: ConversationRow): Conversation {
  return {
    key: row.key,
    platform: row.platform as Platform,
    kind: row.kind as ConversationKind,
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
