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
}

export interface OutboxRecord extends OutboundMessage {
  readonly id: number;
  readonly status: "pending" | "sent" | "failed";
  readonly attempts: number;
  /** Chunks already delivered, so a resend after a crash continues with the next one. */
  readonly chunksSent: number;
  readonly createdAt: number;
}

/** Posts into one chat platform through its official SDK client. */
export interface PlatformSender {
  readonly platform: Platform;
  /** Splits `text` into the chunks this platform accepts (size limits, formatting). */
  chunk(text: string): string[];
  /**
   * Sends one chunk. `index` is its position, `key` a stable per-chunk idempotency key that the sender
   * passes to the platform where the platform supports one (LINE `X-Line-Retry-Key`, Discord `nonce`).
   */
  sendChunk(message: OutboundMessage, chunk: string, index: number, key: string): Promise<void>;
}
