import type { InboundEvent } from "../../src/ingress/event.ts";

let counter = 0;

/** A plausible Telegram text message event; override what the test cares about. */
export function makeEvent(overrides: {
  eventId?: string;
  conversationKey?: string;
  text?: string;
  platform?: InboundEvent["platform"];
  receivedAt?: number;
}): InboundEvent {
  counter += 1;
  const text = overrides.text ?? `message ${counter}`;
  return {
    platform: overrides.platform ?? "telegram",
    eventId: overrides.eventId ?? `evt-${process.pid}-${counter}`,
    conversation: { key: overrides.conversationKey ?? "telegram:1001", kind: "dm" },
    sender: { platformUserId: "1001", displayName: "Mei" },
    occurredAt: overrides.receivedAt ?? 1_700_000_000_000,
    receivedAt: overrides.receivedAt ?? 1_700_000_000_000,
    addressedToBot: true,
    content: { type: "message", text, attachments: [] },
    reply: { platform: "telegram", chatId: 1001, messageId: counter },
    raw: { update_id: counter, message: { text } },
  };
}
