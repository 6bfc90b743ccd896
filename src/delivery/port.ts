import type { ReplyContext } from "../ingress/event.ts";
import type { Platform } from "../store/port.ts";

/**
 * Delivery: every reply goes through the outbox. A message is recorded (with an idempotency key) before
 * anything is sent; the dispatcher sends it and marks it sent. A crash and restart sends what was not sent
 * and never what was (DESIGN §3.4).
 */
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
  claim(options: { owner: string; leaseMs: number; limit: number }): Promise<ClaimedMessage[]>;
  /** Records that `chunksSent` chunks are delivered, and extends the lease by `leaseMs`. */
  recordChunks(claim: ClaimedMessage, chunksSent: number, leaseMs: number): Promise<boolean>;
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
   * Throws a `DeliveryError` (errors.ts) saying whether to wait, retry or give up.
   */
  sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    key: string,
    context?: SendContext,
  ): Promise<void>;
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
}
