import { Api, GrammyError } from "grammy";
import { DeliveryError, httpFailure, retryAfterMs } from "../errors.ts";
import type { OutboundMessage, PlatformSender, SendContext } from "../port.ts";
import { markdownToPlain, splitText } from "../text.ts";
import { DEFAULT_SEND_TIMEOUT_MS, replyFor, type SenderOptions } from "./shared.ts";

export interface TelegramSenderOptions extends SenderOptions {
  readonly botToken: string;
  /** TELEGRAM_API_ROOT, e.g. `https://api.telegram.org`. */
  readonly apiRoot: string;
}

export const TELEGRAM_TEXT_LIMIT = 4_096;

/**
 * Telegram: `sendMessage` as plain text (Markdown stripped, no `parse_mode`, so nothing can fail to parse),
 * chunks of at most 4,096 characters, in the conversation's topic (`message_thread_id`), the first chunk
 * replying to the message answered.
 */
export class TelegramSender implements PlatformSender {
  readonly platform = "telegram" as const;
  readonly #api: Api;

  constructor(options: TelegramSenderOptions) {
    this.#api = new Api(options.botToken, {
      apiRoot: options.apiRoot.replace(/\/+$/, ""),
      timeoutSeconds: Math.ceil((options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS) / 1000),
    });
  }

  chunk(text: string): string[] {
    return splitText(markdownToPlain(text), TELEGRAM_TEXT_LIMIT);
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    _key: string,
    context?: SendContext,
  ): Promise<void> {
    const reply = replyFor("telegram", message);
    try {
      await this.#api.sendMessage(
        reply.chatId,
        chunk,
        {
          ...(reply.messageThreadId !== undefined && { message_thread_id: reply.messageThreadId }),
          ...(index === 0 &&
            reply.messageId !== undefined && {
              reply_parameters: { message_id: reply.messageId, allow_sending_without_reply: true },
            }),
        },
        // grammY types its signal with the `abort-controller` shim; Node's AbortSignal is what it uses at run time.
        context?.signal as Parameters<Api["sendMessage"]>[3],
      );
    } catch (error) {
      throw classify(error);
    }
  }
}

function classify(error: unknown): unknown {
  if (!(error instanceof GrammyError)) return error;
  if (error.error_code === 429) {
    return new DeliveryError("rate_limited", `Telegram: ${error.description}`, {
      status: 429,
      retryAfterMs: retryAfterMs(error.parameters.retry_after) ?? 1_000,
      cause: error,
    });
  }
  return httpFailure("Telegram", error.error_code, error.description, { cause: error });
}
