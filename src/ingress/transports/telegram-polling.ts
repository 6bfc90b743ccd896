import { z } from "zod";
import type { Inbox } from "../../inbox/port.ts";
import type { Logger } from "../../shared/logger.ts";
import type { InboundEvent } from "../event.ts";
import { botIdFromToken, parseTelegramUpdate } from "../platforms/telegram.ts";
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, describeError, sleep } from "./backoff.ts";
import type { InboundTransport } from "./types.ts";

/**
 * Telegram long polling: `getUpdates` in a loop. Telegram keeps every update until a later `getUpdates`
 * carries an `offset` above its `update_id` ("confirmed"). The offset only moves past a batch after the
 * batch's events are durable in the inbox, so an update is confirmed only once stored; if enqueue fails the
 * same offset is polled again and Telegram hands the same updates back. After a crash the unconfirmed
 * updates come again and the inbox's dedupe (event id `<bot id>:<update_id>`) absorbs the repeats.
 *
 * The offset is deliberately not persisted: Telegram holds the cursor, and update ids restart at a random
 * value after a week of silence, which would make a stored offset skip updates.
 */
export interface TelegramPollingOptions {
  readonly token: string;
  /** Bot API root, e.g. `https://api.telegram.org`. */
  readonly apiRoot: string;
  /** Learnt with `getMe` when not given. */
  readonly botUsername?: string | undefined;
  readonly inbox: Pick<Inbox, "enqueue">;
  readonly logger: Logger;
  readonly now?: () => number;
  /** The long poll's `timeout` in seconds. Default 25. */
  readonly pollTimeoutSeconds?: number;
  /** How much longer than the long poll a request may take before it is abandoned. Default 10 s. */
  readonly requestMarginMs?: number;
  /** Default `["message", "callback_query"]`, what `parseTelegramUpdate` turns into events. */
  readonly allowedUpdates?: readonly string[];
  readonly backoff?: BackoffOptions;
}

const DEFAULT_ALLOWED_UPDATES = ["message", "callback_query"] as const;
const SHORT_CALL_TIMEOUT_MS = 10_000;

const ApiReply = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error_code: z.number().int(),
    description: z.string().default(""),
    parameters: z.object({ retry_after: z.number().optional() }).loose().optional(),
  }),
]);
const Updates = z.array(z.object({ update_id: z.number().int() }).loose());
const Me = z.object({ id: z.number().int(), username: z.string().optional() }).loose();

/** A Bot API call that did not succeed, with what to do about it. */
class TelegramCallError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly level: "warn" | "error";
  constructor(message: string, level: "warn" | "error", retryAfterMs?: number) {
    super(message);
    this.level = level;
    this.retryAfterMs = retryAfterMs;
  }
}

export class TelegramPollingTransport implements InboundTransport {
  readonly name = "telegram-polling";
  readonly #options: TelegramPollingOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #botId: number | undefined;
  #botUsername: string | undefined;
  #usernameKnown: boolean;
  /** The next `offset`: one past the last update whose events are durable. */
  #offset: number | undefined;
  /** The offset the last successful call carried, i.e. what Telegram has confirmed. */
  #confirmed: number | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: TelegramPollingOptions) {
    this.#options = options;
    this.#log = options.logger.child({ transport: this.name });
    this.#now = options.now ?? Date.now;
    this.#botId = botIdFromToken(options.token);
    this.#botUsername = options.botUsername;
    this.#usernameKnown = options.botUsername !== undefined;
  }

  async start(): Promise<void> {
    if (this.#loop !== undefined || this.#stopping !== undefined)
      throw new Error(`${this.name} already started`);
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
    this.#log.info({ apiRoot: this.#options.apiRoot }, "Telegram long polling started");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    await this.#confirmStored();
    this.#log.info("Telegram long polling stopped");
  }

  async #run(signal: AbortSignal): Promise<void> {
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!this.#usernameKnown) await this.#learnUsername(signal);
        await this.#pollOnce(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        const delay = Math.max(
          error instanceof TelegramCallError ? (error.retryAfterMs ?? 0) : 0,
          backoffDelay(failures, backoff),
        );
        const level = error instanceof TelegramCallError ? error.level : "warn";
        this.#log[level]({ retryInMs: delay, failures }, describeError(error));
        await sleep(delay, signal);
      }
    }
  }

  async #pollOnce(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.#options.pollTimeoutSeconds ?? 25;
    const offset = this.#offset;
    const result = await this.#call(
      "getUpdates",
      {
        ...(offset === undefined ? {} : { offset }),
        timeout: timeoutSeconds,
        allowed_updates: this.#options.allowedUpdates ?? DEFAULT_ALLOWED_UPDATES,
      },
      timeoutSeconds * 1_000 + (this.#options.requestMarginMs ?? 10_000),
      signal,
    );
    this.#confirmed = offset;
    const updates = Updates.safeParse(result);
    if (!updates.success)
      throw new TelegramCallError("getUpdates returned something other than updates", "warn");
    const batch = updates.data;
    const last = batch.at(-1);
    if (last === undefined) return;

    const receivedAt = this.#now();
    const ctx = { receivedAt, botId: this.#botId, botUsername: this.#botUsername };
    const events: InboundEvent[] = [];
    for (const update of batch) {
      const outcome = parseTelegramUpdate(update, ctx);
      if (outcome.ok) events.push(...outcome.events);
      // A malformed update would block the queue forever if it were retried; it is skipped (and confirmed).
      else
        this.#log.warn({ updateId: update.update_id, reason: outcome.reason }, "skipping a malformed update");
    }
    if (events.length > 0) {
      try {
        await this.#options.inbox.enqueue(events);
      } catch (error) {
        throw new TelegramCallError(
          `could not store ${events.length} update(s) (${describeError(error)}); ` +
            "not confirming them, so Telegram hands them out again",
          "error",
        );
      }
    }
    this.#offset = last.update_id + 1;
  }

  async #learnUsername(signal: AbortSignal): Promise<void> {
    const me = Me.safeParse(await this.#call("getMe", {}, SHORT_CALL_TIMEOUT_MS, signal));
    this.#usernameKnown = true;
    // Without a username every command counts as ours (see parseTelegramUpdate); polling still works.
    this.#botUsername = me.success ? me.data.username : undefined;
    this.#log.info({ botUsername: this.#botUsername }, "learnt the bot's username with getMe");
  }

  /**
   * On shutdown, tells Telegram that the last stored batch is handled (grammY does the same), so a restart
   * does not receive it again. Best effort: without it the restart gets duplicates the inbox drops.
   */
  async #confirmStored(): Promise<void> {
    const offset = this.#offset;
    if (offset === undefined || offset === this.#confirmed) return;
    try {
      await this.#call("getUpdates", { offset, limit: 1, timeout: 0 }, SHORT_CALL_TIMEOUT_MS, undefined);
      this.#confirmed = offset;
    } catch (error) {
      this.#log.debug({ error: describeError(error) }, "could not confirm the last updates on shutdown");
    }
  }

  /** One Bot API call. The URL holds the token, so it is never logged or put in an error. */
  async #call(
    method: string,
    params: object,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetch(
        `${this.#options.apiRoot.replace(/\/+$/, "")}/bot${this.#options.token}/${method}`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(params),
          signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
        },
      );
    } catch (error) {
      const what = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeError(error);
      throw new TelegramCallError(`cannot reach the Telegram Bot API (${method}: ${what})`, "warn");
    }
    const text = await response.text().catch(() => "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const reply = ApiReply.safeParse(body);
    if (!reply.success) {
      throw new TelegramCallError(
        `${method} answered HTTP ${response.status} without a Bot API reply`,
        "warn",
      );
    }
    if (reply.data.ok) return reply.data.result;
    throw explain(method, reply.data.error_code, reply.data.description, reply.data.parameters?.retry_after);
  }
}

function explain(method: string, code: number, description: string, retryAfter: number | undefined): Error {
  const said = `${method}: ${code} ${description}`.trim();
  if (code === 401 || code === 404) {
    return new TelegramCallError(
      `Telegram rejected the bot token (${said}): check TELEGRAM_BOT_TOKEN`,
      "error",
    );
  }
  if (code === 409 && /webhook/i.test(description)) {
    return new TelegramCallError(
      `a webhook is set: delete it or use TELEGRAM_MODE=webhook (${said}); retrying`,
      "error",
    );
  }
  if (code === 409) {
    return new TelegramCallError(
      `another process is polling this bot: run only one instance with TELEGRAM_MODE=polling (${said}); retrying`,
      "error",
    );
  }
  if (code === 429) {
    return new TelegramCallError(`rate limited by Telegram (${said})`, "warn", (retryAfter ?? 1) * 1_000);
  }
  return new TelegramCallError(`Telegram Bot API error (${said})`, "warn");
}
