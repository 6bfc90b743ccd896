import {
  LogLevel,
  type Logger as SlackLogger,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebClient,
} from "@slack/web-api";
import { DeliveryError, httpFailure } from "../errors.ts";
import type { OutboundMessage, PlatformSender, SendContext } from "../port.ts";
import { markdownToMrkdwn, splitText } from "../text.ts";
import { abortable, DEFAULT_SEND_TIMEOUT_MS, replyFor, type SenderOptions } from "./shared.ts";

export interface SlackSenderOptions extends SenderOptions {
  readonly botToken: string;
  /** SLACK_API_URL, e.g. `https://slack.com/api`. */
  readonly apiUrl: string;
}

/** Our chunk size: well under Slack's 4,000 recommendation and 40,000 truncation. */
export const SLACK_CHUNK_LIMIT = 3_500;

/** Platform errors worth retrying; every other `ok: false` is a refusal (bad channel, not in channel, …). */
const TRANSIENT_ERRORS = new Set([
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
  "ratelimited",
  "team_added_to_org",
]);

/**
 * Slack: `chat.postMessage` in the conversation's thread (`reply.threadTs`), mrkdwn converted from the
 * agent's Markdown, chunks of at most 3,500 characters on paragraph and line boundaries with code fences
 * kept whole. The WebClient's own retries are off (`retries: 0`, rate-limited calls rejected): the
 * dispatcher owns the retry policy and honours `Retry-After`.
 */
export class SlackSender implements PlatformSender {
  readonly platform = "slack" as const;
  readonly #client: WebClient;

  constructor(options: SlackSenderOptions) {
    this.#client = new WebClient(options.botToken, {
      slackApiUrl: `${options.apiUrl.replace(/\/+$/, "")}/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      logger: SILENT,
    });
  }

  chunk(text: string): string[] {
    return splitText(text, SLACK_CHUNK_LIMIT, { fences: true })
      .map(markdownToMrkdwn)
      .filter((c) => c.length > 0);
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    _index: number,
    _key: string,
    context?: SendContext,
  ): Promise<void> {
    const reply = replyFor("slack", message);
    try {
      await abortable(
        this.#client.chat.postMessage({
          channel: reply.channel,
          text: chunk,
          mrkdwn: true,
          ...(reply.threadTs !== undefined && { thread_ts: reply.threadTs }),
        }),
        context?.signal,
      );
    } catch (error) {
      throw classify(error);
    }
  }
}

function classify(error: unknown): unknown {
  if (error instanceof WebAPIRateLimitedError) {
    return new DeliveryError("rate_limited", "Slack rate limited the call", {
      status: 429,
      retryAfterMs: error.retryAfter * 1000,
      cause: error,
    });
  }
  if (error instanceof WebAPIPlatformError) {
    const code = error.data.error;
    return new DeliveryError(TRANSIENT_ERRORS.has(code) ? "transient" : "permanent", `Slack error: ${code}`, {
      cause: error,
    });
  }
  if (error instanceof WebAPIHTTPError) {
    return httpFailure("Slack", error.statusCode, error.statusMessage, { cause: error });
  }
  return error;
}

const noop = (): void => {};
/** The WebClient logs through this; our own logs say what happened. */
const SILENT: SlackLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  setLevel: noop,
  getLevel: () => LogLevel.ERROR,
  setName: noop,
};
