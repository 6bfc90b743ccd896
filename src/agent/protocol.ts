import { z } from "zod";

/**
 * The bridge protocol between the Router (control plane) and the agent daemon inside a switchboard or VM.
 * Newline-delimited JSON frames over the stdin/stdout of `cloudclaude agent bridge` (run through the engine's
 * exec, or as a child process in the process runtime). Documented for humans in docs/bridge-protocol.md.
 *
 * - Router → daemon frames are commands (`RouterFrame`).
 * - Daemon → router frames are either events (`AgentEvent`, numbered with `seq`, persisted in the daemon's
 *   append-only log on the volume) or replies that are not persisted (`welcome`, `pong`, `turn_state`).
 * - On connect the router says `hello` with the last `seq` it has fully handled; the daemon answers
 *   `welcome` and replays every event after it, then streams live ones. So a router that crashed or lost
 *   its bridge misses nothing, and one bridge per container carries all of its conversations.
 * - `turnId` makes turns idempotent: the router derives it from the inbox items it carries, so a router
 *   that re-sends a turn after a crash never starts it twice (see `turn`).
 */
export const PROTOCOL_VERSION = 1;

const conversation = z.string().min(1).max(512);
const turnId = z.string().min(1).max(200);

/** At most this many files ride on one `turn` frame. */
export const MAX_TURN_ATTACHMENTS = 10;
/** At most this many bytes (decoded) of files ride on one `turn` frame: its base64 fits a 64 MiB frame. */
export const MAX_TURN_ATTACHMENT_BYTES = 40 * 1024 * 1024;

/**
 * A file the person sent with the turn, already downloaded by the control plane. The daemon writes it
 * under `<workspace>/attachments/<turnId>/` (the name made safe) and tells Claude where it is.
 */
export const TurnAttachment = z.object({
  /** The name the person gave it (or one derived from the platform's); sanitised by the daemon. */
  name: z.string().min(1).max(1_000),
  /** The media type, e.g. `image/jpeg`; `application/octet-stream` when unknown. */
  mediaType: z.string().min(1).max(255),
  dataBase64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
});
export type TurnAttachment = z.infer<typeof TurnAttachment>;
const turnAttachments = z
  .array(TurnAttachment)
  .max(MAX_TURN_ATTACHMENTS)
  .refine(
    (files) =>
      files.reduce((n, f) => n + f.dataBase64.length, 0) <= Math.ceil(MAX_TURN_ATTACHMENT_BYTES / 3) * 4,
    { message: `attachments over ${MAX_TURN_ATTACHMENT_BYTES} bytes in all` },
  );

/** At most this many bytes per file Claude leaves in `<workspace>/outbox/` to be sent to the chat. */
export const MAX_OUTBOX_FILE_BYTES = 20 * 1024 * 1024;
/** At most this many such files per turn; more are refused (named, with a note). */
export const MAX_OUTBOX_FILES = 10;

/**
 * A file Claude wrote into `<workspace>/outbox/` during a turn, moved to `outbox/sent/<turn id>/` when
 * the turn ended: metadata only (the router fetches the bytes with `read_file`). `refused` says why it is
 * not sent (too large, too many); such a file is named in the chat instead.
 */
export const OutboxFile = z.object({
  name: z.string().min(1).max(255),
  size: z.number().int().min(0),
  mediaType: z.string().min(1).max(255),
  refused: z.string().max(500).optional(),
});
export type OutboxFile = z.infer<typeof OutboxFile>;

// ---- Router → daemon

export const RouterFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hello"), protocol: z.number().int(), resumeFrom: z.number().int().min(0) }),
  /**
   * Starts a turn. If the daemon already knows `turnId`: a running or finished turn is left alone (its
   * events are, or were, in the log); a turn the daemon lost mid-way (it crashed) is run again only when
   * `attempt` is higher than the attempt it lost, resuming `sessionId`.
   */
  z.object({
    type: z.literal("turn"),
    turnId,
    conversation,
    attempt: z.number().int().min(1),
    /** The Claude Code session to resume; null starts a new one. */
    sessionId: z.string().min(1).nullable(),
    text: z.string(),
    sender: z.object({ id: z.string(), name: z.string().optional() }),
    /** Files the person sent (bounded: `MAX_TURN_ATTACHMENTS`, `MAX_TURN_ATTACHMENT_BYTES`). */
    attachments: turnAttachments.optional(),
  }),
  /** Interrupts the running turn of the conversation, if any (`/cancel`). */
  z.object({ type: z.literal("interrupt"), conversation }),
  /** Closes the conversation's live session; the next turn comes with `sessionId: null` (`/new`). */
  z.object({ type: z.literal("forget"), conversation }),
  /** Answers a `permission_request`. `by` is who decided (shown back in chat). */
  z.object({
    type: z.literal("permission"),
    requestId: z.string().min(1),
    allow: z.boolean(),
    by: z.string(),
    reason: z.string().optional(),
  }),
  /** The control plane's result for a switchboard `tool_call`. */
  z.object({
    type: z.literal("tool_result"),
    callId: z.string().min(1),
    ok: z.boolean(),
    output: z.string(),
  }),
  /** Asks where a turn stands; answered by `turn_state` (not persisted). */
  z.object({ type: z.literal("query_turn"), turnId }),
  /** Asks for the bytes of a file of `turn_finished.files`; answered by `file` (not persisted). */
  z.object({ type: z.literal("read_file"), turnId, name: z.string().min(1).max(255) }),
  /** Everything up to `seq` is durably handled by the router; the daemon may compact its log up to it. */
  z.object({ type: z.literal("ack"), seq: z.number().int().min(0) }),
  z.object({ type: z.literal("ping"), id: z.string() }),
]);
export type RouterFrame = z.infer<typeof RouterFrame>;

// ---- Daemon → router: persisted events

const eventBase = { seq: z.number().int().min(1), at: z.number(), conversation, turnId };

export const AgentEvent = z.discriminatedUnion("type", [
  z.object({
    ...eventBase,
    type: z.literal("turn_started"),
    attempt: z.number().int(),
    sessionId: z.string().nullable(),
  }),
  /** A piece of the assistant's text, in order; the final text is repeated in `turn_finished`. */
  z.object({ ...eventBase, type: z.literal("text"), text: z.string() }),
  z.object({
    ...eventBase,
    type: z.literal("tool_use"),
    toolUseId: z.string(),
    name: z.string(),
    input: z.unknown(),
  }),
  /** Claude Code asks to use a tool; answer with a `permission` frame before `expiresAt` or it is denied. */
  z.object({
    ...eventBase,
    type: z.literal("permission_request"),
    requestId: z.string(),
    tool: z.string(),
    input: z.unknown(),
    title: z.string().optional(),
    expiresAt: z.number(),
  }),
  z.object({
    ...eventBase,
    type: z.literal("permission_resolved"),
    requestId: z.string(),
    allow: z.boolean(),
    /** Who decided, or "timeout" when the deadline passed. */
    by: z.string(),
  }),
  /** A switchboard tool call for the control plane to execute with the user's authority. */
  z.object({
    ...eventBase,
    type: z.literal("tool_call"),
    callId: z.string(),
    name: z.string(),
    input: z.unknown(),
  }),
  z.object({
    ...eventBase,
    type: z.literal("turn_finished"),
    sessionId: z.string(),
    /** The final answer. */
    text: z.string(),
    isError: z.boolean(),
    interrupted: z.boolean(),
    /**
     * Why Claude Code ended the turn with an error, as it names it on the API-error message
     * (`authentication_failed`, `rate_limit`, `billing_error`, …), when it said. Structured, unlike `text`.
     */
    errorKind: z.string().optional(),
    /** The HTTP status of the API error that ended the turn (401: the credential was refused), when known. */
    apiErrorStatus: z.number().int().optional(),
    costUsd: z.number().optional(),
    usage: z.record(z.string(), z.number()).optional(),
    durationMs: z.number(),
    /** Files Claude left in `<workspace>/outbox/` during the turn (metadata only; see `read_file`). */
    files: z.array(OutboxFile).max(100).optional(),
  }),
  /** The turn ended without an answer. `retryable`: the daemon lost it (crash, agent process died). */
  z.object({
    ...eventBase,
    type: z.literal("turn_failed"),
    message: z.string(),
    retryable: z.boolean(),
    sessionId: z.string().nullable(),
  }),
]);
export type AgentEvent = z.infer<typeof AgentEvent>;

// ---- Daemon → router: replies (not persisted, no seq)

export const DaemonReply = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    protocol: z.number().int(),
    daemonId: z.string(),
    kind: z.enum(["switchboard", "project"]),
    lastSeq: z.number().int().min(0),
  }),
  z.object({ type: z.literal("pong"), id: z.string() }),
  z.object({
    type: z.literal("turn_state"),
    turnId,
    /** unknown: never seen; lost: the daemon died during it and it can be retried with a higher attempt. */
    state: z.enum(["unknown", "running", "finished", "failed", "lost"]),
    attempt: z.number().int().min(0),
  }),
  /** The answer to `read_file`: the bytes, or why not (`error`: no such file, too large). */
  z.object({
    type: z.literal("file"),
    turnId,
    name: z.string().min(1).max(255),
    dataBase64: z
      .string()
      .max(Math.ceil(MAX_OUTBOX_FILE_BYTES / 3) * 4)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/)
      .optional(),
    error: z.string().max(500).optional(),
  }),
]);
export type DaemonReply = z.infer<typeof DaemonReply>;

export const DaemonFrame = z.union([AgentEvent, DaemonReply]);
export type DaemonFrame = z.infer<typeof DaemonFrame>;

/** One frame per line; `JSON.stringify` never emits a raw newline, so framing is just "\n". */
export function encodeFrame(frame: RouterFrame | DaemonFrame): string {
  return `${JSON.stringify(frame)}\n`;
}
