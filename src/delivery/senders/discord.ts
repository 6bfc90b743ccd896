import { DiscordAPIError, HTTPError, RateLimitError, REST } from "@discordjs/rest";
import { type RESTPostAPIChannelMessageJSONBody, Routes } from "discord-api-types/v10";
import { DeliveryError, httpFailure } from "../errors.ts";
import type { OutboundMessage, PlatformSender, SendContext } from "../port.ts";
import { splitText } from "../text.ts";
import { DEFAULT_SEND_TIMEOUT_MS, nonceFromKey, replyFor, type SenderOptions } from "./shared.ts";

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
  ): Promise<void> {
    const reply = replyFor("discord", message);
    const signal = context?.signal;
    const applicationId = reply.applicationId ?? this.#applicationId;
    const token = reply.interactionToken;
    if (token && applicationId && this.#now() - message.inboundReceivedAt < INTERACTION_TOKEN_TTL_MS) {
      const body = { content: chunk, allowed_mentions: ALLOWED_MENTIONS };
      try {
        if (index === 0) {
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
        return;
      } catch (error) {
        const code = error instanceof DiscordAPIError ? Number(error.code) : 0;
        if (!DEAD_INTERACTION_CODES.has(code)) throw classify(error);
      }
    }
    const body: RESTPostAPIChannelMessageJSONBody = {
      content: chunk,
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
  }
}

function classify(error: unknown): unknown {
  if (error instanceof RateLimitError) {
    return new DeliveryError("rate_limited", `Discord rate limited ${error.route}`, {
      status: 429,
      retryAfterMs: error.retryAfter,
      cause: error,
    });
  }
  if (error instanceof DiscordAPIError || error instanceof HTTPError) {
    return httpFailure("Discord", error.status, error.message, { cause: error });
  }
  return error;
}
