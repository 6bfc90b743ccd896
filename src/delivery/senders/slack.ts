import {
  type KnownBlock,
  LogLevel,
  type Logger as SlackLogger,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebClient,
} from "@slack/web-api";
import { abortable } from "../../shared/abort.ts";
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
import { markdownToMrkdwn, splitConverted } from "../text.ts";
import { DEFAULT_SEND_TIMEOUT_MS, liveTail, replyFor, type SenderOptions } from "./shared.ts";

export interface SlackSenderOptions extends SenderOptions {
  readonly botToken: string;
  /** SLACK_API_URL, e.g. `https://slack.com/api`. */
  readonly apiUrl: string;
}

/** A section block's text limit, so one chunk is one section. */
export const SLACK_CHUNK_LIMIT = 3_000;
/** `markdown_text` of one stream call is at most 12,000; keep a margin. */
const STREAM_TEXT_LIMIT = 11_000;

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
 * Slack: `chat.postMessage` in the conversation's thread, mrkdwn converted from the agent's Markdown, one
 * section block per chunk of at most 3,000 characters (code fences kept whole), buttons in an `actions`
 * block. While a turn runs in a thread, the native stream (`chat.startStream` / `appendStream`), started
 * again when Slack says it expired (`message_not_in_streaming_state`); the final answer stops the stream
 * with the rest of its text. Outside threads (top-level DMs) one message is edited with `chat.update`.
 * The WebClient's own retries are off: the dispatcher owns the retry policy and honours `Retry-After`.
 */
export class SlackSender implements PlatformSender {
  readonly platform = "slack" as const;
  readonly #client: WebClient;
  readonly live: LiveCapable;

  constructor(options: SlackSenderOptions) {
    this.#client = new WebClient(options.botToken, {
      slackApiUrl: `${options.apiUrl.replace(/\/+$/, "")}/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      logger: SILENT,
    });
    this.live = {
      streams: () => true,
      update: (message, live, text, signal) => this.#update(message, live, text, signal),
    };
  }

  /** Converted first, measured after: escaping (`&` → `&amp;`) makes mrkdwn longer than its Markdown. */
  chunk(text: string): string[] {
    return splitConverted(text, SLACK_CHUNK_LIMIT, markdownToMrkdwn, undefined, { fences: true });
  }

  async sendChunk(
    message: OutboundMessage,
    chunk: string,
    index: number,
    _key: string,
    context?: SendContext,
  ): Promise<ChunkOutcome> {
    const reply = replyFor("slack", message);
    const signal = context?.signal;
    const thread = reply.threadTs === undefined ? {} : { thread_ts: reply.threadTs };
    const notice = message.extras?.noticeFor;
    if (notice !== undefined) {
      await this.#call(
        this.#client.chat.postEphemeral({ channel: reply.channel, user: notice, text: chunk, ...thread }),
        signal,
      );
      return "sent";
    }
    const last = index === (context?.chunks ?? 1) - 1;
    const blocks: KnownBlock[] = [
      { type: "section", text: { type: "mrkdwn", text: chunk } },
      ...(last ? actionsBlock(message.extras?.buttons) : []),
    ];
    const live = context?.live;
    if (index === 0 && live?.ref.messageId !== undefined) {
      if (live.ref.mode === "stream" && context?.fileNote !== undefined) {
        // A long answer whose start the stream shows: it ends with the note, the file follows.
        try {
          await this.#call(
            this.#client.chat.stopStream({
              channel: reply.channel,
              ts: live.ref.messageId,
              markdown_text: `\n\n${context.fileNote}`,
            }),
            signal,
          );
          return "complete";
        } catch (error) {
          // Gone or expired: the head is posted below.
          if (
            !isGone(error) &&
            !(error instanceof DeliveryError && /not_in_streaming_state/.test(error.message))
          )
            throw error;
        }
      } else if (live.ref.mode === "stream") {
        const streamed = (live.ref.streamed ?? []).join("");
        const rest = message.text.startsWith(streamed) ? message.text.slice(streamed.length) : undefined;
        const fits = rest !== undefined && rest.length <= STREAM_TEXT_LIMIT;
        try {
          await this.#call(
            this.#client.chat.stopStream({
              channel: reply.channel,
              ts: live.ref.messageId,
              ...(fits && rest.trim() !== "" && { markdown_text: rest }),
            }),
            signal,
          );
          if (fits) return "complete";
        } catch (error) {
          // Deleted meanwhile: the whole answer is posted below as if nothing had been streamed.
          if (!isGone(error)) {
            if (!(error instanceof DeliveryError && /not_in_streaming_state/.test(error.message)))
              throw error;
            // Expired since the last append: what is missing goes out as plain replies, split as usual.
            if (fits) {
              const pieces = this.chunk(rest);
              for (const [i, piece] of pieces.entries()) {
                const withButtons = i === pieces.length - 1 ? actionsBlock(message.extras?.buttons) : [];
                const section: KnownBlock = { type: "section", text: { type: "mrkdwn", text: piece } };
                await this.#post(reply.channel, piece, [section, ...withButtons], thread, signal);
              }
              return "complete";
            }
          }
        }
        // The final text is not what was streamed (or the stream is gone): post it in full.
      } else {
        try {
          await this.#call(
            this.#client.chat.update({ channel: reply.channel, ts: live.ref.messageId, text: chunk, blocks }),
            signal,
          );
          return "sent";
        } catch (error) {
          // The streamed message was deleted or can no longer be edited: the answer is posted anew.
          if (!isGone(error)) throw error;
        }
      }
    }
    await this.#post(reply.channel, chunk, blocks, thread, signal);
    return "sent";
  }

  /**
   * A long answer's whole text as a file in the conversation (`filesUploadV2`: files.getUploadURLExternal,
   * the upload, files.completeUploadExternal), in the thread the answer went to.
   */
  async sendFile(
    message: OutboundMessage,
    file: ReplyFile,
    _key: string,
    context?: SendContext,
  ): Promise<void> {
    const reply = replyFor("slack", message);
    const upload = { file: fileBytes(file), filename: file.name, title: file.name };
    await this.#call(
      this.#client.filesUploadV2(
        reply.threadTs === undefined
          ? { ...upload, channel_id: reply.channel }
          : { ...upload, channel_id: reply.channel, thread_ts: reply.threadTs },
      ),
      context?.signal,
    );
  }

  async #post(
    channel: string,
    text: string,
    blocks: KnownBlock[],
    thread: { thread_ts?: string },
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const result = await this.#call(
      this.#client.chat.postMessage({ channel, text, blocks, mrkdwn: true, ...thread }),
      signal,
    );
    return typeof result.ts === "string" ? result.ts : undefined;
  }

  async #update(
    message: OutboundMessage,
    live: LiveMessage | undefined,
    text: string,
    signal: AbortSignal,
  ): Promise<LiveRef> {
    const reply = replyFor("slack", message);
    const recipient = message.extras?.recipient;
    const inChannel = !reply.channel.startsWith("D");
    // A stream needs a thread, and outside DMs the person it answers.
    if (reply.threadTs === undefined || live?.ref.mode === "edit" || (inChannel && recipient === undefined)) {
      // No thread to stream in: one message, edited.
      const shown = markdownToMrkdwn(liveTail(text, SLACK_CHUNK_LIMIT - 50));
      if (shown === "") return live?.ref ?? {};
      const ts = live?.ref.messageId;
      const blocks: KnownBlock[] = [{ type: "section", text: { type: "mrkdwn", text: shown } }];
      if (ts === undefined) {
        const posted = await this.#post(reply.channel, shown, blocks, {}, signal);
        return { mode: "edit", messageId: posted };
      }
      await this.#call(this.#client.chat.update({ channel: reply.channel, ts, text: shown, blocks }), signal);
      return live?.ref ?? { mode: "edit", messageId: ts };
    }
    const streamed = live?.ref.streamed ?? [];
    const sent = streamed.join("");
    if (!text.startsWith(sent)) return live?.ref ?? {};
    const delta = text.slice(sent.length);
    if (delta.trim() === "") return live?.ref ?? {};
    const current = live?.ref.messageId;
    const currentLength = streamed[streamed.length - 1]?.length ?? 0;
    if (current !== undefined && currentLength + delta.length <= STREAM_TEXT_LIMIT) {
      try {
        await this.#call(
          this.#client.chat.appendStream({ channel: reply.channel, ts: current, markdown_text: delta }),
          signal,
        );
        return {
          mode: "stream",
          messageId: current,
          streamed: [...streamed.slice(0, -1), `${streamed.at(-1) ?? ""}${delta}`],
        };
      } catch (error) {
        // The stream expired during a long pause (a tool call): carry on in a new one.
        if (!(error instanceof DeliveryError && /not_in_streaming_state/.test(error.message))) throw error;
      }
    } else if (current !== undefined) {
      await this.#call(this.#client.chat.stopStream({ channel: reply.channel, ts: current }), signal).catch(
        () => {},
      );
    }
    const started = await this.#call(
      this.#client.chat.startStream({
        channel: reply.channel,
        thread_ts: reply.threadTs,
        markdown_text: delta,
        ...(inChannel &&
          recipient !== undefined && { recipient_user_id: recipient, recipient_team_id: reply.teamId }),
      }),
      signal,
    );
    const ts = typeof started.ts === "string" ? started.ts : undefined;
    if (ts === undefined) throw new DeliveryError("transient", "Slack started a stream without a ts");
    return { mode: "stream", messageId: ts, streamed: [...streamed, delta] };
  }

  async #call<T>(call: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await abortable(call, signal);
    } catch (error) {
      throw classify(error);
    }
  }
}

/** Slack's answer when the message to finish is gone (deleted) or can no longer be changed. */
function isGone(error: unknown): boolean {
  return (
    error instanceof DeliveryError &&
    /message_not_found|cant_update_message|edit_window_closed/.test(error.message)
  );
}

function actionsBlock(buttons: readonly ReplyButton[] | undefined): KnownBlock[] {
  if (!buttons || buttons.length === 0) return [];
  return [
    {
      type: "actions",
      elements: buttons.slice(0, 25).map((b, i) => ({
        type: "button",
        action_id: `cc_${i}`,
        text: { type: "plain_text", text: b.label.slice(0, 75) },
        value: b.value.slice(0, 2_000),
        ...(b.style && { style: b.style }),
      })),
    } as KnownBlock,
  ];
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
