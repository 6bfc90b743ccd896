import type { ChunkOutcome, OutboundMessage, PlatformSender } from "../port.ts";
import { sanitize, splitText } from "../text.ts";
import type { WebchatHub } from "../webchat-hub.ts";
import { replyFor } from "./shared.ts";

/** Large enough that a reply is one event; small enough that one event stays a sane size. */
export const WEBCHAT_CHUNK_LIMIT = 100_000;

/** Webchat: Markdown as is, handed to the in-process hub that the page's event stream reads. */
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
    _index: number,
    key: string,
  ): Promise<ChunkOutcome> {
    replyFor("webchat", message);
    this.#hub.publish(message.conversationKey, { key, text: chunk });
    return "sent";
  }
}
