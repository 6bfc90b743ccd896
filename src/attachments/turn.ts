import { humanSize } from "../agent/daemon/attachments.ts";
import { MAX_TURN_ATTACHMENT_BYTES, MAX_TURN_ATTACHMENTS, type TurnAttachment } from "../agent/protocol.ts";
import type { InboxItem } from "../inbox/index.ts";
import type { RouterContext } from "../router/context.ts";
import { type MessageKey, message } from "../router/messages.ts";
import type { TurnRecord } from "../router/turn-store.ts";
import type { SkippedAttachment } from "./download.ts";

export interface TurnFiles {
  /** For the `turn` frame. */
  readonly attachments: TurnAttachment[];
  /** Lines for Claude about the files that did not come (the daemon adds `[attached: …]` for the rest). */
  readonly notes: string[];
}

/**
 * The files of a turn's messages, downloaded once per turn (the router reuses the result for a retried
 * attempt). Whatever could not be fetched is said twice: to Claude in the turn text, and to the person in
 * the chat, once per turn and file (outbox key `turn:<id>:file:<n>`).
 */
export async function filesForTurn(
  ctx: RouterContext,
  turn: TurnRecord,
  items: readonly InboxItem[],
): Promise<TurnFiles> {
  const events = items.map((i) => i.event);
  const any = events.some((e) => e.content.type === "message" && e.content.attachments.length > 0);
  if (!any) return { attachments: [], notes: [] };
  const fetcher = ctx.deps.attachments;
  const batch = fetcher
    ? await fetcher.fetchAll(events)
    : {
        files: [],
        skipped: events.flatMap((e) =>
          e.content.type === "message"
            ? e.content.attachments.map(
                (a, i): SkippedAttachment => ({
                  name: a.name ?? `${a.kind}-${i + 1}`,
                  reason: "unsupported",
                }),
              )
            : [],
        ),
      };
  const limit = humanSize(fetcher?.maxBytes ?? 0);
  const lang = turn.reply.language;
  const notes: string[] = [];
  for (const [n, skip] of batch.skipped.entries()) {
    const size = skip.sizeBytes === undefined ? "" : `, ${humanSize(skip.sizeBytes)}`;
    let key: MessageKey;
    let why: string;
    if (skip.reason === "too_large") {
      key = "attachmentTooLarge";
      why = `larger than the ${limit} limit`;
    } else if (skip.reason === "turn_limit") {
      key = "attachmentTooMany";
      why = "over the per-message limit";
    } else {
      key = "attachmentFailed";
      why = "it could not be downloaded";
    }
    notes.push(`[not attached: ${skip.name}${size}: ${why}]`);
    const params = {
      name: skip.name,
      size: skip.sizeBytes === undefined ? "?" : humanSize(skip.sizeBytes),
      limit: skip.reason === "turn_limit" ? humanSize(MAX_TURN_ATTACHMENT_BYTES) : limit,
      count: MAX_TURN_ATTACHMENTS,
    };
    await ctx.reply(
      `turn:${turn.id}:file:${n}`,
      turn.reply,
      turn.conversationKey,
      message(lang, key, params),
    );
  }
  return { attachments: batch.files, notes };
}
