import { createHash } from "node:crypto";
import type { ReplyContext } from "../../ingress/event.ts";
import type { Platform } from "../../store/port.ts";
import { DeliveryError } from "../errors.ts";
import type { OutboundMessage } from "../port.ts";

/** Options every sender takes. */
export interface SenderOptions {
  /** Per-request timeout given to the SDK client (the dispatcher also aborts at its own timeout). Default 15 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export const DEFAULT_SEND_TIMEOUT_MS = 15_000;

/** The message's reply context, narrowed to the sender's platform (a mismatch is a bug: permanent). */
export function replyFor<P extends Platform>(
  platform: P,
  message: OutboundMessage,
): Extract<ReplyContext, { platform: P }> {
  const reply = message.reply;
  if (reply.platform !== platform) {
    throw new DeliveryError("permanent", `a ${reply.platform} reply context reached the ${platform} sender`);
  }
  return reply as Extract<ReplyContext, { platform: P }>;
}

const KEY_NAMESPACE = Buffer.from("6f1e0a52b4c34d3f9a3c2f1d8e7b6a59", "hex");

/** A name-based (version 5) UUID of `key`: the same chunk key always gives the same UUID. */
export function uuidFromKey(key: string): string {
  const hash = createHash("sha1").update(KEY_NAMESPACE).update(key, "utf8").digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A Discord `nonce` (at most 25 characters) derived from a chunk key. */
export function nonceFromKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("base64url").slice(0, 25);
}

/**
 * What a streamed message shows of a partial reply: all of it while it fits in `limit`, else its end
 * (the final answer is split properly). An open code fence is closed so the preview renders.
 */
export function liveTail(text: string, limit: number): string {
  let shown =
    text.length <= limit ? text : `…${text.slice(text.length - limit + 8).replace(/^[^\n]*\n/, "")}`;
  const fences = shown.match(/^\s*```/gm)?.length ?? 0;
  if (fences % 2 === 1) shown = `${shown}\n\`\`\``;
  return shown.trim();
}
