/**
 * PlatformSender: posts into one chat platform through its official SDK client. The outbox calls it with
 * an idempotency key already recorded, so a sender never needs to remember what it sent.
 */
export interface PlatformSender {
  readonly platform: "line" | "slack" | "discord" | "telegram" | "webchat";
  send(message: OutboundMessage): Promise<{ platformMessageId: string | null }>;
}

export interface OutboundMessage {
  readonly idempotencyKey: string;
  readonly conversationKey: string;
  readonly text: string;
  /** Platform reply context (LINE reply token, Slack thread ts, …), opaque here. */
  readonly replyContext?: unknown;
}
