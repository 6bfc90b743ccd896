import type { ChunkOutcome, OutboundMessage, PlatformSender, SendContext } from "../port.ts";
import { sanitize, splitText } from "../text.ts";
import type { WebchatHub } from "../webchat-hub.ts";
import { replyFor } from "./shared.ts";

/** Large enough that a reply is one event; small enough that one event stays a sane size. */
export const WEBCHAT_CHUNK_LIMIT = 100_000;

/**
 * Webchat: Markdown as is, handed to the in-process hub that the page's event stream reads, with the
 * reply's buttons (approvals) under its last chunk.
 */
export class WebchatSender implements PlatformSender {
  readonly platform = "webchat" as const;
  readonly #hub: WebchatHub;

  constructor(hub: WebchatHub) {
    this.#hub = hub;
  }

  chunk(text: string): string[] {
    return splitText(sanitize(text), WEBCHAT_CHUNK_LIMIT, { fences: true });
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome> {
    replyFor("webchat", message);
    // Approval buttons go under the last chunk, as on the other platforms; the page posts a press back.
    const last = index === (context?.chunks ?? 1) - 1;
    const buttons = last ? message.extras?.buttons : undefined;
    this.#hub.publish(message.conversationKey, { key, text: chunk, ...(buttons && { buttons }) });
    return "sent";
  }
}
