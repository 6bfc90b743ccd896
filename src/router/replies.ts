import type { OutboundExtras } from "../delivery/port.ts";
import type { ReplyContext } from "../ingress/event.ts";
import type { Platform } from "../store/port.ts";
import type { RouterContext } from "./context.ts";

/** Where a reply goes: the conversation and how to answer in it. */
export interface ReplyTarget {
  readonly platform: Platform;
  readonly conversationKey: string;
  readonly reply: ReplyContext;
  readonly inboundReceivedAt: number;
}

/** Records a reply in the outbox (idempotent on `key`), with its extras, and wakes delivery. */
export async function enqueueReply(
  ctx: RouterContext,
  target: ReplyTarget,
  key: string,
  text: string,
  extras?: OutboundExtras,
): Promise<void> {
  await ctx.deps.outbox.enqueue({
    idempotencyKey: key,
    platform: target.platform,
    conversationKey: target.conversationKey,
    reply: target.reply,
    inboundReceivedAt: target.inboundReceivedAt,
    text,
    ...(extras && { extras }),
  });
  ctx.deps.kickDelivery();
}
