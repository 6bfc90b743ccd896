import { DiscordAPIError, HTTPError, RateLimitError, REST } from "@discordjs/rest";
import {
  type APIActionRowComponent,
  type APIButtonComponent,
  ButtonStyle,
  ComponentType,
  MessageFlags,
  type RESTPostAPIChannelMessageJSONBody,
  Routes,
} from "discord-api-types/v10";
import { DeliveryError, httpFailure } from "../errors.ts";
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
import { DEFAULT_SEND_TIMEOUT_MS, liveTail, nonceFromKey, replyFor, type SenderOptions } from "./shared.ts";

export interface DiscordSenderOptions extends SenderOptions {
  readonly botToken: string;
  /** DISCORD_API_URL, e.g. `https://discord.com/api` (the client appends `/v10`). */
  readonly apiUrl: string;
  /** Used for interaction webhooks when the reply context carries none. */
  readonly applicationId?: string | undefined;
}

export const DISCORD_CONTENT_LIMIT = 2_000;
/** Interaction tokens live 15 minutes; stop using one a little before. */
const INTERACTION_TOKEN_TTL_MS = 14 * 60_000;
/** Unknown Webhook, Invalid Webhook Token: the interaction token is gone; post in the channel instead. */
const DEAD_INTERACTION_CODES = new Set([10015, 50027]);
/** Discord's code for a message that does not exist (any more). */
const UNKNOWN_MESSAGE = 10008;
/** Agent output never pings anyone but, on a reply, the person answered. */
const ALLOWED_MENTIONS = { parse: [], replied_user: true };

/**
 * Discord: Discord-flavoured Markdown as is, chunks of at most 2,000 characters with code fences kept whole.
 * An interaction answered within 15 minutes gets its deferred original edited with the first chunk and the
 * rest as followups; otherwise chunks are channel messages (the first replying to `reply.messageId`) with
 * `nonce` = a hash of the chunk key and `enforce_nonce`, so Discord returns the existing message when a
 * chunk is resent after a crash instead of posting it twice.
 */
export class DiscordSender implements PlatformSender {
  readonly platform = "discord" as const;
  readonly #rest: REST;
  readonly #applicationId: string | undefined;
  readonly #now: () => number;
  readonly live: LiveCapable;

  constructor(options: DiscordSenderOptions) {
    this.#rest = new REST({
      api: options.apiUrl.replace(/\/+$/, ""),
      version: "10",
      timeout: options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      retries: 0,
      // Reject instead of queueing behind a rate limit: the dispatcher reschedules with `retryAfter`.
      rejectOnRateLimit: () => true,
    }).setToken(options.botToken);
    this.#applicationId = options.applicationId;
    this.#now = options.now ?? Date.now;
    this.live = {
      streams: () => true,
      update: (message, live, text, signal) => this.#update(message, live, text, signal),
      typing: async (message, signal) => {
        // An interaction already shows "thinking…" until its deferred answer is edited.
        if (this.#interaction(message)) return;
        const reply = replyFor("discord", message);
        try {
          await this.#rest.post(Routes.channelTyping(reply.channelId), { signal });
        } catch (error) {
          throw classify(error);
        }
      },
      typingEveryMs: 8_000,
    };
  }

  /** The interaction webhook to answer through, while its token is young enough. */
  #interaction(message: OutboundMessage): { applicationId: string; token: string } | undefined {
    const reply = replyFor("discord", message);
    const applicationId = reply.applicationId ?? this.#applicationId;
    const token = reply.interactionToken;
    if (token && applicationId && this.#now() - message.inboundReceivedAt < INTERACTION_TOKEN_TTL_MS) {
      return { applicationId, token };
    }
    return undefined;
  }

  async #update(
    message: OutboundMessage,
    live: LiveMessage | undefined,
    text: string,
    signal: AbortSignal,
  ): Promise<LiveRef> {
    const reply = replyFor("discord", message);
    const content = liveTail(text, DISCORD_CONTENT_LIMIT - 50);
    if (content === "") return live?.ref ?? {};
    const body = { content, allowed_mentions: ALLOWED_MENTIONS };
    try {
      const interaction = this.#interaction(message);
      if (interaction && live?.ref.messageId === undefined) {
        await this.#rest.patch(
          Routes.webhookMessage(interaction.applicationId, interaction.token, "@original"),
          {
            body,
            auth: false,
            signal,
          },
        );
        return { mode: "edit" };
      }
      const messageId = live?.ref.messageId;
      if (messageId !== undefined) {
        await this.#rest.patch(Routes.channelMessage(reply.channelId, messageId), { body, signal });
        return live?.ref ?? { mode: "edit", messageId };
      }
      // The nonce makes a repeat after a crash return the message already posted.
      const posted = (await this.#rest.post(Routes.channelMessages(reply.channelId), {
        body: {
          ...body,
          nonce: nonceFromKey(`live:${message.idempotencyKey}`),
          enforce_nonce: true,
          ...(reply.messageId !== undefined && {
            message_reference: { message_id: reply.messageId, fail_if_not_exists: false },
          }),
        },
        signal,
      })) as { id: string };
      return { mode: "edit", messageId: posted.id };
    } catch (error) {
      throw classify(error);
    }
  }

  chunk(text: string): string[] {
    return splitText(text, DISCORD_CONTENT_LIMIT, { fences: true });
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome> {
    const reply = replyFor("discord", message);
    const signal = context?.signal;
    const last = index === (context?.chunks ?? 1) - 1;
    const components = last ? componentsOf(message.extras?.buttons) : undefined;
    const interaction = this.#interaction(message);
    const liveId = context?.live?.ref.messageId;
    if (index === 0 && liveId !== undefined) {
      // The turn streamed into this channel message: the final text is its last edit.
      try {
        await this.#rest.patch(Routes.channelMessage(reply.channelId, liveId), {
          body: { content: chunk, allowed_mentions: ALLOWED_MENTIONS, ...(components && { components }) },
          signal,
        });
        return "sent";
      } catch (error) {
        // Unknown Message: deleted meanwhile; the answer is posted as a new message below.
        if (!(error instanceof DiscordAPIError && Number(error.code) === UNKNOWN_MESSAGE))
          throw classify(error);
      }
    }
    if (interaction) {
      const { applicationId, token } = interaction;
      const notice = message.extras?.noticeFor !== undefined;
      // The deferred answer (`@original`) is the turn's answer or a command's; prompts and notices that come
      // alongside it are follow-ups, so they never overwrite it.
      const original = index === 0 && !notice && !message.extras?.followup;
      const body = {
        content: chunk,
        allowed_mentions: ALLOWED_MENTIONS,
        ...(components && { components }),
        // A notice answers one person's button press: only they see it.
        ...(notice && { flags: MessageFlags.Ephemeral }),
      };
      try {
        if (original) {
          await this.#rest.patch(Routes.webhookMessage(applicationId, token, "@original"), {
            body,
            auth: false,
            signal,
          });
        } else {
          await this.#rest.post(Routes.webhook(applicationId, token), {
            body,
            auth: false,
            query: new URLSearchParams({ wait: "true" }),
            signal,
          });
        }
        return "sent";
      } catch (error) {
        const code = error instanceof DiscordAPIError ? Number(error.code) : 0;
        // A deleted original answer: post in the channel instead, as for a dead token.
        if (!DEAD_INTERACTION_CODES.has(code) && !(original && code === UNKNOWN_MESSAGE))
          throw classify(error);
      }
    }
    const body: RESTPostAPIChannelMessageJSONBody = {
      content: chunk,
      ...(components && { components }),
      nonce: nonceFromKey(key),
      enforce_nonce: true,
      allowed_mentions: ALLOWED_MENTIONS,
      ...(index === 0 &&
        reply.messageId !== undefined && {
          message_reference: { message_id: reply.messageId, fail_if_not_exists: false },
        }),
    };
    try {
      await this.#rest.post(Routes.channelMessages(reply.channelId), { body, signal });
    } catch (error) {
      throw classify(error);
    }
    return "sent";
  }

  /**
   * A long answer's whole text as an attachment (multipart `files[0]` + `payload_json`): a follow-up of the
   * interaction while its token lives, else a channel message with a nonce (a resend is not posted twice).
   */
  async sendFile(
    message: OutboundMessage,
    file: ReplyFile,
    key: string,
    context?: SendContext,
  ): Promise<void> {
    const reply = replyFor("discord", message);
    const signal = context?.signal;
    const files = [{ name: file.name, data: fileBytes(file), contentType: file.mediaType }];
    const attachments = [{ id: 0, filename: file.name }];
    const interaction = this.#interaction(message);
    if (interaction) {
      try {
        await this.#rest.post(Routes.webhook(interaction.applicationId, interaction.token), {
          body: { allowed_mentions: ALLOWED_MENTIONS, attachments },
          files,
          auth: false,
          query: new URLSearchParams({ wait: "true" }),
          signal,
        });
        return;
      } catch (error) {
        const code = error instanceof DiscordAPIError ? Number(error.code) : 0;
        if (!DEAD_INTERACTION_CODES.has(code)) throw classify(error);
      }
    }
    try {
      await this.#rest.post(Routes.channelMessages(reply.channelId), {
        body: {
          nonce: nonceFromKey(key),
          enforce_nonce: true,
          allowed_mentions: ALLOWED_MENTIONS,
          attachments,
        },
        files,
        signal,
      });
    } catch (error) {
      throw classify(error);
    }
  }
}

function componentsOf(
  buttons: readonly ReplyButton[] | undefined,
): APIActionRowComponent<APIButtonComponent>[] | undefined {
  if (!buttons || buttons.length === 0) return undefined;
  return [
    {
      type: ComponentType.ActionRow,
      components: buttons.slice(0, 5).map((b) => ({
        type: ComponentType.Button,
        style:
          b.style === "danger"
            ? ButtonStyle.Danger
            : b.style === "primary"
              ? ButtonStyle.Primary
              : ButtonStyle.Secondary,
        label: b.label.slice(0, 80),
        custom_id: b.value.slice(0, 100),
      })),
    },
  ];
}

function classify(error: unknown): unknown {
  if (error instanceof RateLimitError) {
    return new DeliveryError("rate_limited", `Discord rate limited ${error.route}`, {
      status: 429,
      retryAfterMs: error.retryAfter,
      // The global limit holds every call of the bot, not one channel's.
      scope: error.global || error.scope === "global" ? "bot" : "chat",
      cause: error,
    });
  }
  if (error instanceof DiscordAPIError || error instanceof HTTPError) {
    return httpFailure("Discord", error.status, error.message, { cause: error });
  }
  return error;
}
