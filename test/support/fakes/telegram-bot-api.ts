import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeServer, listenLoopback, readBody, sendJson } from "./http.ts";

/**
 * A fake Telegram Bot API on 127.0.0.1 (`apiRoot`), enough for long polling:
 * - `getUpdates {offset, limit, timeout, allowed_updates}`: updates below `offset` are confirmed (dropped);
 *   with nothing to hand out, the call waits up to `timeout` seconds for a pushed update. A second
 *   concurrent call ends the first with 409 "terminated by other getUpdates request", like Telegram.
 * - `getMe`, `setWebhook`, `deleteWebhook {drop_pending_updates}`, `getWebhookInfo`.
 * - a wrong token gets 401; while a webhook is set `getUpdates` gets 409; `failNext` injects errors.
 * Every call is recorded in `calls` (method, params, HTTP status).
 */
export interface FakeTelegramOptions {
  readonly token?: string;
  readonly botUsername?: string;
}

export interface RecordedTelegramCall {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly status: number;
  /** When the answer was sent (ms since epoch). */
  readonly at: number;
}

export interface TelegramUpdate {
  readonly update_id: number;
  readonly [key: string]: unknown;
}

interface Poll {
  readonly res: ServerResponse;
  readonly params: Record<string, unknown>;
  readonly timer: NodeJS.Timeout;
}

export const TELEGRAM_TEST_TOKEN = "123456789:AAtest-token_for-the-fake-bot-api";

export class FakeTelegramBotApi {
  readonly token: string;
  readonly botId: number;
  readonly botUsername: string;
  readonly calls: RecordedTelegramCall[] = [];
  readonly #server: Server;
  readonly #port: number;
  /** Unconfirmed updates, in id order. */
  #updates: TelegramUpdate[] = [];
  #nextUpdateId = 700_000_001;
  #webhookUrl = "";
  #failures: { status: number; description: string; raw?: string }[] = [];
  #poll: Poll | undefined;
  #messageId = 1;

  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegramBotApi> {
    let fake: FakeTelegramBotApi | undefined;
    const { server, port } = await listenLoopback((req, res) => {
      fake
        ?.handle(req, res)
        .catch(() => sendJson(res, 500, { ok: false, error_code: 500, description: "fake" }));
    });
    fake = new FakeTelegramBotApi(server, port, options);
    return fake;
  }

  private constructor(server: Server, port: number, options: FakeTelegramOptions) {
    this.#server = server;
    this.#port = port;
    this.token = options.token ?? TELEGRAM_TEST_TOKEN;
    this.botId = Number(this.token.split(":")[0]);
    this.botUsername = options.botUsername ?? "cloudclaude_test_bot";
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Queues an update (its `update_id` is assigned) and wakes a waiting long poll. Returns the id. */
  pushUpdate(update: Record<string, unknown>): number {
    const full: TelegramUpdate = { ...update, update_id: this.#nextUpdateId++ };
    this.#updates.push(full);
    this.#answerPoll(false);
    return full.update_id;
  }

  /** A private-chat text message from user `chatId`. */
  pushText(text: string, chatId = 1001): number {
    return this.pushUpdate({
      message: {
        message_id: this.#messageId++,
        date: Math.floor(Date.now() / 1000),
        chat: { id: chatId, type: "private", first_name: "Mei" },
        from: { id: chatId, is_bot: false, first_name: "Mei", language_code: "en" },
        text,
      },
    });
  }

  /** Ids of the updates Telegram still holds (not yet confirmed by a higher offset). */
  unconfirmed(): number[] {
    return this.#updates.map((u) => u.update_id);
  }

  /** Whether a long poll is waiting for updates. */
  get polling(): boolean {
    return this.#poll !== undefined;
  }

  callsTo(method: string): RecordedTelegramCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  setWebhook(url: string): void {
    this.#webhookUrl = url;
  }

  /** The next `count` calls (any method) fail with this status; `raw` sends a non-JSON body (a proxy page). */
  failNext(count: number, status = 500, description = "Internal Server Error", raw?: string): void {
    for (let i = 0; i < count; i++)
      this.#failures.push({ status, description, ...(raw === undefined ? {} : { raw }) });
  }

  async close(): Promise<void> {
    this.#answerPoll(true);
    await closeServer(this.#server);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.apiRoot);
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const text = await readBody(req);
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (text !== "") Object.assign(params, JSON.parse(text) as Record<string, unknown>);
    const method = match?.[2] ?? url.pathname;
    const reply = (status: number, body: unknown): void => {
      this.calls.push({ method, params, status, at: Date.now() });
      sendJson(res, status, body);
    };
    const fail = (status: number, description: string, extra: object = {}): void =>
      reply(status, { ok: false, error_code: status, description, ...extra });

    if (match === null) return fail(404, "Not Found");
    if (match[1] !== this.token) return fail(401, "Unauthorized");
    const failure = this.#failures.shift();
    if (failure !== undefined) {
      if (failure.raw === undefined) return fail(failure.status, failure.description);
      this.calls.push({ method, params, status: failure.status, at: Date.now() });
      res.writeHead(failure.status, { "content-type": "text/html" });
      res.end(failure.raw);
      return;
    }
    switch (method) {
      case "getMe":
        return reply(200, {
          ok: true,
          result: { id: this.botId, is_bot: true, first_name: "Test bot", username: this.botUsername },
        });
      case "setWebhook":
        this.#webhookUrl = String(params.url ?? "");
        return reply(200, { ok: true, result: true, description: "Webhook was set" });
      case "deleteWebhook":
        this.#webhookUrl = "";
        if (params.drop_pending_updates === true) this.#updates = [];
        return reply(200, { ok: true, result: true, description: "Webhook was deleted" });
      case "getWebhookInfo":
        return reply(200, {
          ok: true,
          result: { url: this.#webhookUrl, pending_update_count: this.#updates.length },
        });
      case "getUpdates":
        return this.#getUpdates(params, res, reply, fail);
      default:
        return fail(404, "Not Found: method not found");
    }
  }

  #getUpdates(
    params: Record<string, unknown>,
    res: ServerResponse,
    reply: (status: number, body: unknown) => void,
    fail: (status: number, description: string) => void,
  ): void {
    if (this.#webhookUrl !== "") {
      fail(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
      return;
    }
    if (this.#poll !== undefined) {
      const older = this.#poll;
      this.#poll = undefined;
      clearTimeout(older.timer);
      this.calls.push({ method: "getUpdates", params: older.params, status: 409, at: Date.now() });
      sendJson(older.res, 409, {
        ok: false,
        error_code: 409,
        description:
          "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
      });
    }
    const offset = typeof params.offset === "number" ? params.offset : undefined;
    if (offset !== undefined) this.#updates = this.#updates.filter((u) => u.update_id >= offset);
    const available = this.#available(params);
    const timeout = typeof params.timeout === "number" ? params.timeout : 0;
    if (available.length > 0 || timeout <= 0) {
      reply(200, { ok: true, result: available });
      return;
    }
    const timer = setTimeout(() => this.#answerPoll(true), timeout * 1000);
    this.#poll = { res, params, timer };
    res.on("close", () => {
      if (this.#poll?.res !== res) return;
      clearTimeout(timer);
      this.#poll = undefined;
    });
  }

  #available(params: Record<string, unknown>): TelegramUpdate[] {
    const limit = typeof params.limit === "number" ? params.limit : 100;
    const allowed = Array.isArray(params.allowed_updates) ? (params.allowed_updates as string[]) : [];
    const wanted =
      allowed.length === 0 ? this.#updates : this.#updates.filter((u) => allowed.some((k) => k in u));
    return wanted.slice(0, limit);
  }

  /** Answers the waiting long poll: with what is available, or (timeout/close) possibly nothing. */
  #answerPoll(evenIfEmpty: boolean): void {
    const poll = this.#poll;
    if (poll === undefined) return;
    const available = this.#available(poll.params);
    if (available.length === 0 && !evenIfEmpty) return;
    this.#poll = undefined;
    clearTimeout(poll.timer);
    this.calls.push({ method: "getUpdates", params: poll.params, status: 200, at: Date.now() });
    sendJson(poll.res, 200, { ok: true, result: available });
  }
}
