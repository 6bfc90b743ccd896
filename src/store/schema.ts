import type { Generated, Insertable, Selectable } from "kysely";

/**
 * Table shapes as Kysely sees them. Times are milliseconds since the epoch in a 64-bit integer column
 * (SQLite INTEGER, PostgreSQL BIGINT read back as a JS number), so both dialects compare them the same way.
 */
export interface Database {
  users: UsersTable;
  identities: IdentitiesTable;
  conversations: ConversationsTable;
  inbox_items: InboxItemsTable;
  inbox_conversations: InboxConversationsTable;
  transport_state: TransportStateTable;
  outbox: OutboxTable;
  turns: TurnsTable;
  projects: ProjectsTable;
  bindings: BindingsTable;
  agent_sessions: AgentSessionsTable;
  credentials: CredentialsTable;
  user_access: UserAccessTable;
  one_time_codes: OneTimeCodesTable;
  vms: VmsTable;
  leases: LeasesTable;
  live_messages: LiveMessagesTable;
  project_members: ProjectMembersTable;
  builds: BuildsTable;
  conversation_participants: ConversationParticipantsTable;
}

export interface TurnsTable {
  id: string;
  conversation_key: string;
  agent: string;
  user_id: string;
  /** JSON array of inbox item ids. */
  item_ids: string;
  /** JSON of what a reply needs (platform, reply context, inbound time, language). */
  reply: string;
  attempt: number;
  status: "running" | "finished" | "failed";
  created_at: number;
  finished_at: number | null;
}

export interface OutboxTable {
  id: Generated<number>;
  idempotency_key: string;
  platform: string;
  conversation_key: string;
  /** The `ReplyContext` as JSON. */
  reply: string;
  inbound_received_at: number;
  text: string;
  status: "pending" | "sent" | "failed";
  /** Tries that may have reached the platform (counted at claim; a rate-limited try is given back). */
  attempts: number;
  chunks_sent: number;
  created_at: number;
  next_attempt_at: number;
  sent_at: number | null;
  last_error: string | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  /** JSON `OutboundExtras` (since 0010), or null. */
  extras: string | null;
}

/** The message a turn streams into (since 0010). */
export interface LiveMessagesTable {
  stream_key: string;
  platform: string;
  conversation_key: string;
  /** JSON `LiveRef`. */
  ref: string;
  text: string;
  status: "live" | "final";
  updated_at: number;
}

export interface TransportStateTable {
  key: string;
  /** JSON. */
  value: string;
  updated_at: number;
}

export interface InboxItemsTable {
  id: Generated<number>;
  platform: string;
  event_id: string;
  conversation_key: string;
  /** The `InboundEvent` as JSON. */
  payload: string;
  status: "pending" | "done" | "dead";
  /** Deliveries so far (incremented at claim, so a consumer that dies mid-item still counts). */
  attempts: number;
  available_at: number;
  received_at: number;
  finished_at: number | null;
  last_error: string | null;
}

export interface InboxConversationsTable {
  key: string;
  ready_at: number | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
}

export interface UsersTable {
  id: string;
  display_name: string | null;
  created_at: number;
}

export interface IdentitiesTable {
  platform: string;
  platform_user_id: string;
  user_id: string;
  display_name: string | null;
  created_at: number;
}

export interface ConversationsTable {
  key: string;
  platform: string;
  kind: string;
  title: string | null;
  /** Unused since 0007 (see agent_sessions). */
  agent_session_id: string | null;
  created_at: number;
  updated_at: number;
  /** Bumped on every write; lets later code detect concurrent updates. */
  version: Generated<number>;
  /** Since 0012: JSON of how to post into this chat later (the latest message's reply context). */
  reply: string | null;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type IdentityRow = Selectable<IdentitiesTable>;
export type ConversationRow = Selectable<ConversationsTable>;

export interface ProjectsTable {
  id: string;
  name: string;
  owner_user_id: string;
  repo_url: string | null;
  created_at: number;
  /** Since 0012: the branch the environment is built from (null: the repository's default). */
  branch: string | null;
  /** Since 0012: the environment image the VM runs (null: the default agent image). */
  image: string | null;
  revision: string | null;
  built_at: number | null;
}

/** Since 0012: people besides the owner who may use a project's VM. */
export interface ProjectMembersTable {
  project_id: string;
  user_id: string;
  added_by_user_id: string;
  created_at: number;
}

/** Since 0012: the Build Service's jobs (src/build/jobs.ts). */
export interface BuildsTable {
  id: string;
  project_id: string;
  user_id: string;
  status: "queued" | "running" | "succeeded" | "failed";
  /** JSON `BuildSource`. */
  source: string;
  /** JSON: where progress and the outcome are told (a chat's reply context), or null (the CLI). */
  notify: string | null;
  /** What asked for it (`cmd:<inbox item>`, `tool:<agent>:<call id>`), unique; null from the CLI. */
  request_key: string | null;
  /** Runs started so far (a run cut short by a crash is taken over and counted again). */
  attempt: Generated<number>;
  holder: string | null;
  lease_expires_at: number | null;
  /** The last progress line ("step 3/7: RUN npm ci"). */
  step: string | null;
  image: string | null;
  revision: string | null;
  error: string | null;
  /** The last lines of the build log (on failure). */
  log: string | null;
  /** The Dockerfile the project stage was built from, for the switchboard to fix. */
  dockerfile: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** Since 0012: who has spoken in which conversation (to bind "my group" and add people by name). */
export interface ConversationParticipantsTable {
  conversation_key: string;
  user_id: string;
  display_name: string | null;
  last_seen_at: number;
}

export interface BindingsTable {
  conversation_key: string;
  project_id: string;
  bound_by_user_id: string;
  created_at: number;
}

export interface AgentSessionsTable {
  conversation_key: string;
  agent: string;
  session_id: string;
  updated_at: number;
}

export interface VmsTable {
  name: string;
  kind: "switchboard" | "project";
  user_id: string;
  host: string;
  state: "creating" | "starting" | "running" | "stopping" | "stopped" | "removing" | "error";
  state_since: number;
  reason: string | null;
  error: string | null;
  last_active_at: number;
  created_at: number;
}

/** A person's credential (since 0009). `value` is sealed (src/secrets): never plain text. */
export interface CredentialsTable {
  user_id: string;
  /** "claude" (what pays for turns) or "github". One credential per slot. */
  slot: string;
  kind: string;
  value: string;
  /** The master key the value's data key is wrapped with, for rotation. */
  key_id: string;
  status: "ok" | "rejected";
  created_at: number;
  updated_at: number;
}

/** A person's access to this server (since 0009); no row means "never admitted". */
export interface UserAccessTable {
  user_id: string;
  status: "active" | "suspended" | "removed";
  /** 1 when the server's own credential serves this person (operator mode). */
  server_credential: Generated<number>;
  invited_by: string | null;
  created_at: number;
  updated_at: number;
}

/** Codes of /link, /invite and /connect (since 0009): only their SHA-256 is stored. */
export interface OneTimeCodesTable {
  code_hash: string;
  purpose: string;
  user_id: string;
  /** JSON, purpose-specific (e.g. where to say that a /connect worked). */
  data: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}
