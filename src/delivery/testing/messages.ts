import type { ReplyContext } from "../../ingress/event.ts";
import type { OutboundMessage, PlatformSender } from "../port.ts";

let counter = 0;

/** An outbound message for tests; the platform follows the reply context. */
export function outbound(
  reply: ReplyContext,
  text: string,
  overrides: { key?: string; conversationKey?: string; inboundReceivedAt?: number } = {},
): OutboundMessage {
  counter += 1;
  return {
    idempotencyKey: overrides.key ?? `test:${process.pid}:${Date.now()}:${counter}`,
    platform: reply.platform,
    conversationKey: overrides.conversationKey ?? `${reply.platform}:conv-${counter}`,
    reply,
    inboundReceivedAt: overrides.inboundReceivedAt ?? Date.now(),
    text,
  };
}

/** Sends every chunk of `message` in order, as the dispatcher does on a first try. */
export async function sendAll(
  sender: PlatformSender,
  message: OutboundMessage,
  attempt = 0,
): Promise<string[]> {
  const chunks = sender.chunk(message.text);
  for (const [index, chunk] of chunks.entries()) {
    const signal = AbortSignal.timeout(10_000);
    await sender.sendChunk(message, chunk, index, `${message.idempotencyKey}#${index}`, { attempt, signal });
  }
  return chunks;
}

/** `count` paragraphs of about `size` characters each, numbered so order and loss show. */
export function longText(count: number, size: number): string {
  return Array.from({ length: count }, (_, i) => {
    const words: string[] = [];
    for (let w = 0; words.join(" ").length < size; w++) words.push(`p${i}w${w}`);
    return words.join(" ");
  }).join("\n\n");
}

/** The words of a text, for checking that chunking lost or reordered nothing. */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}
