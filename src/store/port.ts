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
  /** Every user, oldest first (for operators). */
  list(): Promise<User[]>;
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
  /**
   * Detaches an identity from its user: it gets a user of its own again (no credential, no projects).
   * Throws `ConflictError` when it is its user's only identity.
   */
  unlink(platform: Platform, platformUserId: string): Promise<User>;
  /** Attaches the identity to `userId`, moving it from the user it had (creating it if new). */
  move(input: {
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
    /** How to post into the chat later (JSON-serialisable); kept when not given. */
    reply?: unknown;
  }): Promise<Conversation>;
  /** The latest reply context recorded by `upsert`, for posting into the chat later. */
  replyOf<T>(key: string): Promise<T | undefined>;
  /** Records that `userId` spoke in the conversation just now. */
  noteParticipant(key: string, userId: string, displayName?: string | null): Promise<void>;
  /** The conversations `userId` has spoken in, most recent first. */
  ofUser(userId: string): Promise<Array<Conversation & { readonly lastSeenAt: number }>>;
  /** The people who have spoken in the conversation, most recent first. */
  participants(
    key: string,
  ): Promise<Array<{ userId: string; displayName: string | null; lastSeenAt: number }>>;
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
  /** The branch to build from; null: the repository's default branch. */
  readonly branch: string | null;
  /** The environment image its VM runs (a pullable reference); null: the default agent image. */
  readonly image: string | null;
  /** What `image` was built from (e.g. the commit's short hash). */
  readonly revision: string | null;
  readonly builtAt: number | null;
  readonly createdAt: number;
}

export interface ProjectMember {
  readonly projectId: string;
  readonly userId: string;
  readonly addedByUserId: string;
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
  create(input: {
    name: string;
    ownerUserId: string;
    repoUrl?: string | null;
    branch?: string | null;
  }): Promise<Project>;
  get(id: string): Promise<Project | undefined>;
  byName(name: string): Promise<Project | undefined>;
  list(): Promise<Project[]>;
  /** Projects the user owns or is a member of, by name. */
  listFor(userId: string): Promise<Project[]>;
  /** Records a built environment image as the one the project's VM runs. */
  setImage(id: string, image: { image: string; revision: string }): Promise<void>;
  /** Deletes the project with its bindings, members and builds; returns the conversations it was bound to. */
  delete(id: string): Promise<string[]>;
  /** Whether the user may use the project's VM: its owner or a member. */
  mayUse(projectId: string, userId: string): Promise<boolean>;
  members(projectId: string): Promise<ProjectMember[]>;
  /** Idempotent; false when the person was a member already. */
  addMember(projectId: string, userId: string, byUserId: string): Promise<boolean>;
  removeMember(projectId: string, userId: string): Promise<boolean>;
  /** The conversations bound to the project. */
  bindingsOf(projectId: string): Promise<Binding[]>;
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

/** Where a credential is used: "claude" pays for turns; "github" lets agents reach repositories. */
export type CredentialSlot = "claude" | "github";
export type CredentialKind =
  | "anthropic_api_key"
  | "claude_oauth_token"
  | "bedrock"
  | "vertex"
  | "github_token";

/** What is known about a stored credential without decrypting it. */
export interface CredentialInfo {
  readonly userId: string;
  readonly slot: CredentialSlot;
  readonly kind: CredentialKind;
  /** "rejected" once Claude refused it (401, expired); a new credential makes it "ok" again. */
  readonly status: "ok" | "rejected";
  readonly keyId: string;
  readonly updatedAt: number;
}

/**
 * Each person's credentials, sealed with envelope encryption (src/secrets) bound to their row and column.
 * Reading needs the master key the store was opened with; without one, reads and writes throw.
 */
export interface CredentialRepository {
  /** Seals and stores `value`, replacing the slot's earlier credential; status "ok". */
  put(input: { userId: string; slot: CredentialSlot; kind: CredentialKind; value: string }): Promise<void>;
  /** The decrypted value; also remembered as a known secret, so logs and chats never show it. */
  read(userId: string, slot: CredentialSlot): Promise<(CredentialInfo & { value: string }) | undefined>;
  list(userId: string): Promise<CredentialInfo[]>;
  /** Removes one slot, or every credential of the user; returns how many. */
  remove(userId: string, slot?: CredentialSlot): Promise<number>;
  /** "ok" → "rejected". True only for the call that changed it (so a person is told once). */
  markRejected(userId: string, slot: CredentialSlot): Promise<boolean>;
  /** Distinct master key ids the stored values are wrapped with, and how many values each. */
  keyUsage(): Promise<Record<string, number>>;
  /** Re-wraps every value not under the current master key; returns how many changed. */
  rewrapAll(): Promise<number>;
  /** Deletes the credentials sealed under these master keys (lost keys); returns how many. */
  removeUnderKeys(keyIds: readonly string[]): Promise<number>;
}

export type AccessStatus = "active" | "suspended" | "removed";

/** A person's admission to this server. No record: never admitted (unless listed or access is open). */
export interface UserAccess {
  readonly userId: string;
  readonly status: AccessStatus;
  /** The server's own credential serves them (operator mode). */
  readonly serverCredential: boolean;
  readonly invitedBy: string | null;
  readonly updatedAt: number;
}

export interface AccessRepository {
  get(userId: string): Promise<UserAccess | undefined>;
  /** Creates or updates the record; fields left out keep their value (new records: active, no server credential). */
  set(
    userId: string,
    change: { status?: AccessStatus; serverCredential?: boolean; invitedBy?: string | null },
  ): Promise<UserAccess>;
  list(): Promise<UserAccess[]>;
  /**
   * Removes a person: their credentials and open codes go; the user row stays (projects refer to it) with
   * status "removed", and so do their identities, so their next message finds a removed person (refused in
   * every access mode) rather than a stranger, until an admin allows them again.
   */
  removeUser(userId: string): Promise<void>;
}

export type CodePurpose = "link" | "invite" | "connect";

export interface OneTimeCode {
  readonly purpose: CodePurpose;
  readonly userId: string;
  readonly data: unknown;
  readonly expiresAt: number;
}

/** Single-use codes, stored as SHA-256 hashes: a copied database holds no usable code. */
export interface OneTimeCodeRepository {
  create(input: {
    code: string;
    purpose: CodePurpose;
    userId: string;
    ttlMs: number;
    data?: unknown;
  }): Promise<void>;
  /** The code if it exists for this purpose, is unused and unexpired; uses nothing. */
  peek(purpose: CodePurpose, code: string): Promise<OneTimeCode | undefined>;
  /** Uses the code: exactly one of any number of concurrent calls gets it. */
  redeem(purpose: CodePurpose, code: string): Promise<OneTimeCode | undefined>;
  /** Withdraws the user's unused codes of a purpose (a new /connect link replaces the last). */
  revoke(userId: string, purpose: CodePurpose): Promise<number>;
}

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  readonly users: UserRepository;
  readonly identities: IdentityRepository;
  readonly conversations: ConversationRepository;
  readonly projects: ProjectRepository;
  /** Cursors of the long-lived transports (table `transport_state`). */
  readonly transportState: KeyValueRepository;
  readonly credentials: CredentialRepository;
  readonly access: AccessRepository;
  readonly codes: OneTimeCodeRepository;
  /** Reachable and fully migrated? Never throws. */
  health(): Promise<StoreHealth>;
  /** Idempotent. */
  close(): Promise<void>;
}
