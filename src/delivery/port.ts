import type { ReplyContext } from "../ingress/event.ts";
import type { Platform } from "../store/port.ts";
import type { ReplyFile } from "./long-answer.ts";

/**
 * Delivery: every reply goes through the outbox. A message is recorded (with an idempotency key) before
 * anything is sent; the dispatcher sends it and marks it sent. A crash and restart sends what was not sent
 * and never what was (DESIGN §3.4).
 */
/**
 * What sending a chunk achieved: `sent` (go on with the next chunk), or `complete` (the sender delivered the
 * whole message at once, e.g. by finishing a live stream, so the remaining chunks are skipped).
 */
export type ChunkOutcome = "sent" | "complete";

export interface OutboundMessage {
  /** Unique per logical reply, e.g. `turn:<turnId>:final`. Enqueueing the same key again is a no-op. */
  readonly idempotencyKey: string;
  readonly platform: Platform;
  readonly conversationKey: string;
  /** The reply context of the inbound event being answered (reply token, thread, interaction, …). */
  readonly reply: ReplyContext;
  /** When that inbound event was received; decides whether a LINE reply token is still fresh. */
  readonly inboundReceivedAt: number;
  /** Markdown-flavoured text; each sender converts and splits it to fit its platform. */
  readonly text: string;
  /** What the reply carries besides its text. */
  readonly extras?: OutboundExtras | undefined;
}

/** A button under a reply; `value` comes back as an `action` event's value when pressed. */
export interface ReplyButton {
  readonly label: string;
  readonly value: string;
  readonly style?: "primary" | "danger" | undefined;
}

export interface OutboundExtras {
  /** Buttons under the reply's last chunk (approvals). */
  readonly buttons?: readonly ReplyButton[] | undefined;
  /**
   * The live stream this reply finishes (the turn id): its first chunk replaces the streamed message
   * where the platform can edit, instead of being posted a second time.
   */
  readonly stream?: string | undefined;
  /**
   * Meant for one person only (the answer to their button press): Telegram `answerCallbackQuery`, Slack
   * `chat.postEphemeral`, a Discord ephemeral follow-up; plain reply where the platform has no such thing.
   */
  readonly noticeFor?: string | undefined;
  /**
   * Said alongside the answer (a permission prompt, its outcome, tool progress), not the answer itself: on
   * Discord a follow-up rather than the deferred interaction response.
   */
  readonly followup?: boolean | undefined;
  /** The platform user id of the person the reply answers (Slack streams outside DMs need it). */
  readonly recipient?: string | undefined;
  /**
   * The text holds something usable (a /link or /invite code, a /connect link): once the message is sent
   * (or given up), the outbox overwrites its stored text, so the database does not keep the code.
   */
  readonly sensitive?: boolean | undefined;
  /**
   * A file the agent made (its `outbox/`, see docs/delivery.md): sent as a file where the sender can
   * upload files, the message's `text` (naming the file) otherwise. At most 20 MiB.
   */
  readonly file?: { name: string; mediaType: string; dataBase64: string } | undefined;
}

export interface Outbox {
  /** Durably records the message; resolves true if new, false if the key was already there. */
  enqueue(message: OutboundMessage): Promise<boolean>;
  /** Whether a message with this key was ever enqueued (sent or not). */
  has(idempotencyKey: string): Promise<boolean>;
  /** Messages not yet sent, oldest first (for the dispatcher and for operators). */
  pending(limit?: number): Promise<OutboxRecord[]>;
  /** The message recorded under this key, whatever its status. */
  get(idempotencyKey: string): Promise<OutboxRecord | undefined>;
}

export interface OutboxRecord extends OutboundMessage {
  readonly id: number;
  readonly status: "pending" | "sent" | "failed";
  readonly attempts: number;
  /** Chunks already delivered, so a resend after a crash continues with the next one. */
  readonly chunksSent: number;
  readonly createdAt: number;
  /** When a pending message is next due (after a backoff or a platform's `retry_after`). */
  readonly nextAttemptAt: number;
  readonly sentAt: number | null;
  readonly lastError: string | null;
}

/**
 * The dispatcher's side of the outbox. A claim leases the oldest unsent message of each conversation that
 * is due (never a later one while an earlier one is unsent), so any number of dispatchers, in any number of
 * processes, share the work without sending a conversation out of order. Every call that changes a claimed
 * message names its lease and is refused (resolves false) once the lease was lost to another dispatcher.
 */
export interface OutboxQueue extends Outbox {
  /** Leases up to `limit` due conversation heads for `leaseMs`, counting a try on each. */
  claim(options: {
    owner: string;
    leaseMs: number;
    limit: number;
    /** Rows not to take (those this dispatcher is still sending, whatever their lease says). */
    exclude?: readonly number[];
  }): Promise<ClaimedMessage[]>;
  /** Records that `chunksSent` chunks are delivered, and extends the lease by `leaseMs`. */
  recordChunks(claim: ClaimedMessage, chunksSent: number, leaseMs: number): Promise<boolean>;
  /** Extends the lease by `leaseMs` from now; resolves false when it was lost to another dispatcher. */
  extendLease(claim: ClaimedMessage, leaseMs: number): Promise<boolean>;
  markSent(claim: ClaimedMessage): Promise<boolean>;
  markFailed(claim: ClaimedMessage, error: string): Promise<boolean>;
  /**
   * Gives the message back, due again at `at`. `countTry: false` when this try did not reach the platform
   * (rate limited, or stopped between chunks), so it counts neither toward the attempt limit nor as a
   * possible use of a single-use reply token.
   */
  retryLater(
    claim: ClaimedMessage,
    options: { at: number; error: string | null; countTry: boolean },
  ): Promise<boolean>;
}

export interface ClaimedMessage extends OutboxRecord {
  readonly leaseToken: string;
}

/** Posts into one chat platform through its official SDK client. */
export interface PlatformSender {
  readonly platform: Platform;
  /** Splits `text` into the chunks this platform accepts (size limits, formatting). */
  chunk(text: string): string[];
  /**
   * Sends one chunk. `index` is its position, `key` a stable per-chunk idempotency key that the sender
   * passes to the platform where the platform supports one (LINE `X-Line-Retry-Key`, Discord `nonce`).
   * Throws a `DeliveryError` (errors.ts) saying whether to wait, retry or give up. Resolves "complete"
   * when this call delivered the whole message (a Slack stream finished with the rest of the text).
   */
  sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome>;
  /**
   * Sends a long reply's whole text as a file (`long-answer.ts`), after its head; only platforms whose bots
   * can upload files have it. `key` is stable per message, like a chunk's.
   */
  sendFile?(message: OutboundMessage, file: ReplyFile, key: string, context?: SendContext): Promise<void>;
  /** Streaming and typing, where the platform has them. */
  readonly live?: LiveCapable;
  /**
   * Deletes the person's own message that `reply` answers, where a bot may (Telegram: private chats, and
   * groups where it is an admin). Resolves false where it may not or the platform refused; never throws.
   */
  deleteInbound?(reply: ReplyContext): Promise<boolean>;
}

/** What the dispatcher tells a sender about the try in progress. */
export interface SendContext {
  /**
   * Earlier tries of this message that may have reached the platform (0 on the first). A single-use
   * credential such as a LINE reply token is only used when this is 0.
   */
  readonly attempt: number;
  /** Aborted when the per-call timeout fires; handed to the SDK client where it takes one. */
  readonly signal: AbortSignal;
  /** The live message this reply finishes (see `OutboundExtras.stream`), when one was started. */
  readonly live?: LiveMessage | undefined;
  /** How many chunks the message has (the last one carries the buttons). */
  readonly chunks?: number | undefined;
  /**
   * A long answer: the chunk is its head, the whole text follows as a file, and this is the head's last
   * line saying so (a Slack stream that already shows the answer's start ends with just this line).
   */
  readonly fileNote?: string | undefined;
}

/** A platform's handle on a message a turn streams into. */
export interface LiveRef {
  /** Discord channel message id, Telegram message id, Slack stream ts (the current one). */
  readonly messageId?: string | undefined;
  /** Telegram `sendMessageDraft` id (private chats). */
  readonly draftId?: number | undefined;
  /** Slack: the text each stream of the chain received, in order (a stream expires after a long pause). */
  readonly streamed?: readonly string[] | undefined;
  /** Slack: the stream was given up (expired for good, or streaming unsupported) and text posted instead. */
  readonly mode?: "stream" | "edit" | "draft" | "loading" | undefined;
}

export interface LiveMessage {
  readonly streamKey: string;
  readonly ref: LiveRef;
  /** What the message shows so far. */
  readonly text: string;
}

/**
 * A platform that can show a reply while it is written. `update` is called with the whole text so far,
 * at most as often as the governor allows, and returns the (possibly new) ref.
 */
export interface LiveCapable {
  /** Whether this conversation streams at all (LINE never does; it shows a loading animation instead). */
  streams(message: OutboundMessage): boolean;
  update(
    message: OutboundMessage,
    live: LiveMessage | undefined,
    text: string,
    signal: AbortSignal,
  ): Promise<LiveRef>;
  /** A typing or loading indicator, renewed by the caller while the turn runs. */
  typing?(message: OutboundMessage, signal: AbortSignal): Promise<void>;
  /** How often `typing` must be renewed to stay visible. */
  readonly typingEveryMs?: number;
}
