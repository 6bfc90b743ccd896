import { HTTPFetchError, messagingApi } from "@line/bot-sdk";
import { abortable } from "../../shared/abort.ts";
import { DeliveryError, httpFailure, retryAfterMs } from "../errors.ts";
import { DEFAULT_ATTACH_AFTER_CHUNKS } from "../long-answer.ts";
import type {
  ChunkOutcome,
  LiveCapable,
  OutboundMessage,
  PlatformSender,
  ReplyButton,
  SendContext,
} from "../port.ts";
import { markdownToPlain, splitText } from "../text.ts";
import { replyFor, type SenderOptions, uuidFromKey } from "./shared.ts";

export interface LineSenderOptions extends SenderOptions {
  readonly accessToken: string;
  /** LINE_API_BASE_URL. */
  readonly apiBaseUrl: string;
  /** A reply token older than this is not tried (its validity is undisclosed, ~30–60 s). Default 20 s. */
  readonly replyTokenMaxAgeMs?: number;
}

/** Text message limit, in UTF-16 code units. */
export const LINE_TEXT_LIMIT = 5_000;
/** Message objects per reply or push call. */
export const LINE_MESSAGES_PER_CALL = 5;
/** Joins the text messages of one call inside a chunk (a control character, removed from the text). */
const SEPARATOR = "\u001e";

/**
 * LINE: plain text (Markdown stripped), at most 5,000 UTF-16 units per text message and 5 messages per
 * call; one chunk is one call. The first call answers with the reply token while it is fresh and unused
 * (free, and it quotes the conversation); everything else is a push to `reply.to` whose `X-Line-Retry-Key`
 * is derived from the chunk key, so a resend after a crash is recognised by LINE (409 = already sent).
 */
export class LineSender implements PlatformSender {
  readonly platform = "line" as const;
  readonly #client: messagingApi.MessagingApiClient;
  readonly #now: () => number;
  readonly #replyTokenMaxAgeMs: number;
  /** No edits exist on LINE: while a turn runs, a one-to-one chat shows the loading animation. */
  readonly live: LiveCapable;

  constructor(options: LineSenderOptions) {
    this.#client = new messagingApi.MessagingApiClient({
      channelAccessToken: options.accessToken,
      baseURL: options.apiBaseUrl.replace(/\/+$/, ""),
    });
    this.#now = options.now ?? Date.now;
    this.#replyTokenMaxAgeMs = options.replyTokenMaxAgeMs ?? 20_000;
    this.live = {
      streams: () => false,
      update: async () => ({ mode: "loading" }),
      typing: async (message, signal) => {
        const reply = replyFor("line", message);
        // Only one-to-one chats have it; it disappears by itself when our reply arrives.
        if (!reply.to.startsWith("U")) return;
        try {
          await abortable(
            this.#client.showLoadingAnimation({ chatId: reply.to, loadingSeconds: LOADING_SECONDS }),
            signal,
          );
        } catch (error) {
          throw classify(error);
        }
      },
      typingEveryMs: (LOADING_SECONDS - 2) * 1000,
    };
  }

  /**
   * LINE bots cannot send files, so a very long answer stays in text messages (5 a call), ending with a
   * note that says how long it was (where other platforms would attach it as a file).
   */
  chunk(text: string): string[] {
    const plain = markdownToPlain(text);
    const pieces = splitText(plain, LINE_TEXT_LIMIT);
    if (pieces.length > DEFAULT_ATTACH_AFTER_CHUNKS) {
      pieces.push(
        `(End of a long answer: ${plain.length.toLocaleString("en")} characters in ${pieces.length} messages.)`,
      );
    }
    const calls: string[] = [];
    for (let i = 0; i < pieces.length; i += LINE_MESSAGES_PER_CALL) {
      calls.push(pieces.slice(i, i + LINE_MESSAGES_PER_CALL).join(SEPARATOR));
    }
    return calls;
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome> {
    const reply = replyFor("line", message);
    const texts = chunk.split(SEPARATOR);
    const last = index === (context?.chunks ?? 1) - 1;
    const quickReply = last ? quickReplyOf(message.extras?.buttons) : undefined;
    const messages = texts.map((text, i) => ({
      type: "text" as const,
      text,
      // Postback buttons under the last message (LINE cannot remove them later: stale taps are refused).
      ...(quickReply && i === texts.length - 1 && { quickReply }),
    }));
    const signal = context?.signal;
    const fresh = this.#now() - message.inboundReceivedAt < this.#replyTokenMaxAgeMs;
    if (reply.replyToken && index === 0 && (context?.attempt ?? 0) === 0 && fresh) {
      try {
        await abortable(this.#client.replyMessage({ replyToken: reply.replyToken, messages }), signal);
        return "sent";
      } catch (error) {
        // 400: the token expired or was used. Nothing was sent, so push instead.
        if (!(error instanceof HTTPFetchError && error.status === 400)) throw classify(error);
      }
    }
    if (!reply.to) throw new DeliveryError("permanent", "LINE reply context has no push target");
    try {
      await abortable(this.#client.pushMessage({ to: reply.to, messages }, uuidFromKey(key)), signal);
    } catch (error) {
      // 409: this retry key was already accepted, i.e. the chunk went out before a crash or timeout.
      if (error instanceof HTTPFetchError && error.status === 409) return "sent";
      throw classify(error);
    }
    return "sent";
  }
}

const LOADING_SECONDS = 20;

function quickReplyOf(buttons: readonly ReplyButton[] | undefined) {
  if (!buttons || buttons.length === 0) return undefined;
  return {
    items: buttons.slice(0, 13).map((b) => ({
      type: "action" as const,
      action: {
        type: "postback" as const,
        label: b.label.slice(0, 20),
        data: b.value.slice(0, 300),
        displayText: b.label.slice(0, 300),
      },
    })),
  };
}

function classify(error: unknown): unknown {
  if (!(error instanceof HTTPFetchError)) return error;
  return httpFailure("LINE", error.status, error.body || error.statusText, {
    retryAfterMs: retryAfterMs(error.headers.get("retry-after") ?? undefined),
    cause: error,
  });
}
