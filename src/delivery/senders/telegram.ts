import { Api, GrammyError, InputFile } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { ReplyContext } from "../../ingress/event.ts";
import { DeliveryError, httpFailure, retryAfterMs } from "../errors.ts";
import { markdownToTelegramHtml, telegramChunks, visibleTelegramText } from "../format/telegram-html.ts";
import { fileBytes, type ReplyFile } from "../long-answer.ts";
import type {
  ChunkOutcome,
  LiveCapable,
  LiveMessage,
  LiveRef,
  OutboundMessage,
  PlatformSender,
  ReplyButton,
  SendContext,
} from "../port.ts";
import { splitText } from "../text.ts";
import { DEFAULT_SEND_TIMEOUT_MS, liveTail, replyFor, type SenderOptions } from "./shared.ts";

export interface TelegramSenderOptions extends SenderOptions {
  readonly botToken: string;
  /** TELEGRAM_API_ROOT, e.g. `https://api.telegram.org`. */
  readonly apiRoot: string;
}

export const TELEGRAM_TEXT_LIMIT = 4_096;
/** Telegram's answers when the message to edit no longer exists or can no longer be edited. */
const EDIT_GONE = /message to edit not found|message can't be edited|MESSAGE_ID_INVALID/i;

type Signal = Parameters<Api["sendMessage"]>[3];

/**
 * Telegram: the agent's Markdown as Telegram HTML (escaped; a chunk Telegram still cannot parse is resent
 * as plain text), chunks of at most 4,096 visible characters, in the conversation's topic, the first
 * replying to the message answered. While a turn runs: `sendMessageDraft` in private chats (the final
 * `sendMessage` persists it), one message edited with `editMessageText` in groups (the final answer's first
 * chunk is that message's last edit). Buttons are an inline keyboard; a notice for one person answers
 * their button press (`answerCallbackQuery`). A very long answer's whole text comes as a document.
 */
export class TelegramSender implements PlatformSender {
  readonly platform = "telegram" as const;
  readonly #api: Api;
  readonly live: LiveCapable;

  constructor(options: TelegramSenderOptions) {
    this.#api = new Api(options.botToken, {
      apiRoot: options.apiRoot.replace(/\/+$/, ""),
      timeoutSeconds: Math.ceil((options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS) / 1000),
    });
    this.live = {
      streams: () => true,
      update: (message, live, text, signal) => this.#update(message, live, text, signal),
      typing: async (message, signal) => {
        const reply = replyFor("telegram", message);
        await this.#call(() =>
          this.#api.sendChatAction(
            reply.chatId,
            "typing",
            reply.messageThreadId === undefined ? {} : { message_thread_id: reply.messageThreadId },
            signal as Signal,
          ),
        );
      },
      typingEveryMs: 4_500,
    };
  }

  chunk(text: string): string[] {
    return telegramChunks(text, TELEGRAM_TEXT_LIMIT);
  }

  async deleteInbound(reply: ReplyContext): Promise<boolean> {
    if (reply.platform !== "telegram" || reply.messageId === undefined) return false;
    try {
      return await this.#api.deleteMessage(reply.chatId, reply.messageId);
    } catch {
      return false; // too old, or not ours to delete (a group where the bot is no admin)
    }
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    _key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome> {
    const reply = replyFor("telegram", message);
    const signal = context?.signal as Signal;
    const notice = message.extras?.noticeFor;
    if (notice !== undefined && reply.callbackQueryId !== undefined && index === 0) {
      // The presser sees it as a toast; the spinner on their button stops.
      const text = visibleTelegramText(chunk).slice(0, 200);
      try {
        await this.#api.answerCallbackQuery(
          reply.callbackQueryId,
          { text, show_alert: text.length > 60 },
          signal,
        );
        return "sent";
      } catch (error) {
        // "query is too old": say it in the chat instead.
        if (!(error instanceof GrammyError && error.error_code === 400)) throw classify(error);
      }
    }
    const last = index === (context?.chunks ?? 1) - 1;
    const markup = last ? keyboard(message.extras?.buttons) : undefined;
    const live = context?.live;
    const messageId = live?.ref.messageId;
    if (index === 0 && messageId !== undefined) {
      // A group turn streamed into this message: the final text is its last edit.
      try {
        await this.#call(
          () =>
            this.#api.editMessageText(
              reply.chatId,
              Number(messageId),
              chunk,
              { parse_mode: "HTML", ...(markup && { reply_markup: markup }) },
              signal,
            ),
          chunk,
          (plain) =>
            this.#api.editMessageText(
              reply.chatId,
              Number(messageId),
              plain,
              markup ? { reply_markup: markup } : {},
              signal,
            ),
        );
        return "sent";
      } catch (error) {
        // Deleted meanwhile, or too old to edit: the answer is posted as a new message below.
        if (!(error instanceof DeliveryError && EDIT_GONE.test(error.message))) throw error;
      }
    }
    const other = {
      ...(reply.messageThreadId !== undefined && { message_thread_id: reply.messageThreadId }),
      ...(index === 0 &&
        reply.messageId !== undefined && {
          reply_parameters: { message_id: reply.messageId, allow_sending_without_reply: true },
        }),
      ...(markup && { reply_markup: markup }),
    };
    await this.#call(
      () => this.#api.sendMessage(reply.chatId, chunk, { ...other, parse_mode: "HTML" }, signal),
      chunk,
      (plain) => this.#api.sendMessage(reply.chatId, plain, other, signal),
    );
    return "sent";
  }

  /** A long answer's whole text as a document (multipart `sendDocument`), in the conversation's topic. */
  async sendFile(
    message: OutboundMessage,
    file: ReplyFile,
    _key: string,
    context?: SendContext,
  ): Promise<void> {
    const reply = replyFor("telegram", message);
    await this.#call(() =>
      this.#api.sendDocument(
        reply.chatId,
        new InputFile(fileBytes(file), file.name),
        reply.messageThreadId === undefined ? {} : { message_thread_id: reply.messageThreadId },
        context?.signal as Signal,
      ),
    );
  }

  async #update(
    message: OutboundMessage,
    live: LiveMessage | undefined,
    text: string,
    signal: AbortSignal,
  ): Promise<LiveRef> {
    const reply = replyFor("telegram", message);
    const html = markdownToTelegramHtml(liveTail(text, TELEGRAM_TEXT_LIMIT - 100));
    if (html === "") return live?.ref ?? {};
    const thread = reply.messageThreadId === undefined ? {} : { message_thread_id: reply.messageThreadId };
    if (reply.chatId > 0) {
      // Private chat: an animated draft, persisted by the final sendMessage.
      const draftId = live?.ref.draftId ?? draftIdOf(message.idempotencyKey);
      await this.#call(() =>
        this.#api.sendMessageDraft(
          reply.chatId,
          draftId,
          html,
          { ...thread, parse_mode: "HTML" },
          signal as Signal,
        ),
      );
      return { mode: "draft", draftId };
    }
    const messageId = live?.ref.messageId;
    if (messageId === undefined) {
      const sent = await this.#call(() =>
        this.#api.sendMessage(
          reply.chatId,
          html,
          {
            ...thread,
            parse_mode: "HTML",
            ...(reply.messageId !== undefined && {
              reply_parameters: { message_id: reply.messageId, allow_sending_without_reply: true },
            }),
          },
          signal as Signal,
        ),
      );
      if (!sent) throw new DeliveryError("transient", "Telegram answered sendMessage without a message");
      return { mode: "edit", messageId: String(sent.message_id) };
    }
    await this.#call(() =>
      this.#api.editMessageText(
        reply.chatId,
        Number(messageId),
        html,
        { parse_mode: "HTML" },
        signal as Signal,
      ),
    );
    return live?.ref ?? { mode: "edit", messageId };
  }

  /** Runs a call; "not modified" counts as done, "can't parse entities" is retried as plain text. */
  async #call<T>(
    call: () => Promise<T>,
    html?: string,
    plain?: (text: string) => Promise<unknown>,
  ): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 400) {
        if (/message is not modified/i.test(error.description)) return undefined;
        if (plain && html !== undefined && /can't parse entities/i.test(error.description)) {
          const text = splitText(visibleTelegramText(html), TELEGRAM_TEXT_LIMIT)[0] ?? "";
          try {
            await plain(text);
            return undefined;
          } catch (second) {
            throw classify(second);
          }
        }
      }
      throw classify(error);
    }
  }
}

function keyboard(buttons: readonly ReplyButton[] | undefined): InlineKeyboardMarkup | undefined {
  if (!buttons || buttons.length === 0) return undefined;
  // callback_data is 1–64 bytes; our values are far shorter.
  return {
    inline_keyboard: buttons.map((b) => [{ text: b.label, callback_data: b.value.slice(0, 64) }]),
  };
}

/** A stable non-zero draft id per reply, so a restarted process animates the same draft. */
function draftIdOf(key: string): number {
  let hash = 0;
  for (const char of key) hash = (Math.imul(hash, 31) + (char.codePointAt(0) ?? 0)) | 0;
  return (Math.abs(hash) % 2_000_000_000) + 1;
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
