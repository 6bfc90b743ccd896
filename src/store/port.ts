/**
 * The Store port: the system's durable records. One implementation (Kysely) serves SQLite and PostgreSQL;
 * `store.contract.ts` runs the same suite against both. Repositories are grouped by aggregate and stay
 * small; later components add their own.
 */

export const PLATFORMS = ["line", "slack", "discord", "telegram", "webchat"] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface User {
  readonly id: string;
  readonly displayName: string | null;
  readonly createdAt: number;
}

/** A person's account on one platform, e.g. `telegram:1001`. Belongs to exactly one user. */
export interface Identity {
  readonly platform: Platform;
  readonly platformUserId: string;
  readonly userId: string;
  readonly displayName: string | null;
  readonly createdAt: number;
}

export type ConversationKind = "dm" | "group";

export interface Conversation {
  /** Stable key derived from platform ids (see docs/glossary in DESIGN: "Conversation key"). */
  readonly key: string;
  readonly platform: Platform;
  readonly kind: ConversationKind;
  readonly title: string | null;
  readonly agentSessionId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface UserRepository {
  get(id: string): Promise<User | undefined>;
}

export interface IdentityRepository {
  find(platform: Platform, platformUserId: string): Promise<Identity | undefined>;
  listForUser(userId: string): Promise<Identity[]>;
  /**
   * The user behind this identity, creating both on first sight. Safe under concurrency: any number of
   * simultaneous calls for the same identity, from any number of processes, yield one user.
   */
  resolveUser(input: {
    platform: Platform;
    platformUserId: string;
    displayName?: string | null;
  }): Promise<User>;
  /** Attaches an identity to an existing user. Throws `ConflictError` if it already belongs to another. */
  link(input: {
    platform: Platform;
    platformUserId: string;
    userId: string;
    displayName?: string | null;
  }): Promise<Identity>;
}

export interface ConversationRepository {
  get(key: string): Promise<Conversation | undefined>;
  /** Creates the conversation or refreshes its title; never clears its agent session. */
  upsert(input: {
    key: string;
    platform: Platform;
    kind: ConversationKind;
    title?: string | null;
  }): Promise<Conversation>;
  /** Records (or, with `null`, forgets) the agent session the conversation resumes. */
  setAgentSession(key: string, sessionId: string | null): Promise<void>;
}

/** Small JSON values under a key, e.g. a transport's resume cursor. Last write wins. */
export interface KeyValueRepository {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface StoreHealth {
  readonly ok: boolean;
  readonly dialect: "sqlite" | "postgres";
  readonly appliedMigrations: number;
  readonly pendingMigrations: number;
  readonly error?: string;
}

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  readonly users: UserRepository;
  readonly identities: IdentityRepository;
  readonly conversations: ConversationRepository;
  /** Cursors of the long-lived transports (table `transport_state`). */
  readonly transportState: KeyValueRepository;
  /** Reachable and fully migrated? Never throws. */
  health(): Promise<StoreHealth>;
  /** Idempotent. */
  close(): Promise<void>;
}
