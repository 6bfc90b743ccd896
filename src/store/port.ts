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
  /** Creates the conversation or refreshes its title; never clears its agent sessions. */
  upsert(input: {
    key: string;
    platform: Platform;
    kind: ConversationKind;
    title?: string | null;
  }): Promise<Conversation>;
  /** The Claude Code session the conversation resumes on `agent`, if any. */
  sessionOf(key: string, agent: string): Promise<string | null>;
  /** Records (or, with `null`, forgets) the session the conversation resumes on `agent`. */
  setAgentSession(key: string, agent: string, sessionId: string | null): Promise<void>;
}

export interface Project {
  readonly id: string;
  /** Unique, lower-case, used in commands: `[a-z0-9][a-z0-9-]*`. */
  readonly name: string;
  readonly ownerUserId: string;
  readonly repoUrl: string | null;
  readonly createdAt: number;
}

export interface Binding {
  readonly conversationKey: string;
  readonly projectId: string;
  readonly boundByUserId: string;
  readonly createdAt: number;
}

export interface ProjectRepository {
  /** Throws `ConflictError` when the name is taken. */
  create(input: { name: string; ownerUserId: string; repoUrl?: string | null }): Promise<Project>;
  get(id: string): Promise<Project | undefined>;
  byName(name: string): Promise<Project | undefined>;
  list(): Promise<Project[]>;
  /** Binds the conversation to the project (replacing an earlier binding). */
  bind(conversationKey: string, projectId: string, byUserId: string): Promise<Binding>;
  unbind(conversationKey: string): Promise<boolean>;
  bindingOf(conversationKey: string): Promise<Binding | undefined>;
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
  readonly projects: ProjectRepository;
  /** Cursors of the long-lived transports (table `transport_state`). */
  readonly transportState: KeyValueRepository;
  /** Reachable and fully migrated? Never throws. */
  health(): Promise<StoreHealth>;
  /** Idempotent. */
  close(): Promise<void>;
}
