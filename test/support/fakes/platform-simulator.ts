import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type HostedFile, HostedFiles, type HostedRef } from "./platform-simulator/files.ts";
import {
  authorised,
  faultReply,
  PlatformApis,
  type Reply,
  type Route,
  routeOf,
  type SimFile,
  type SimMessage,
  type SimPlatform,
} from "./platform-simulator/platforms.ts";

export type { HostedFile, HostedRef } from "./platform-simulator/files.ts";
export type { SimFile, SimMessage, SimPlatform } from "./platform-simulator/platforms.ts";

/**
 * The chat platforms' outbound APIs on one loopback HTTP server, for tests. Point each official client's
 * base URL at `baseUrls()`; every call is recorded (`calls`) and what it posted becomes a message
 * (`messages`, `messagesTo`). Faults and delays are injected per platform and endpoint.
 *
 * Endpoints (the names tests filter `calls` by):
 * - LINE (`/v2/bot/...`): `reply` (reply tokens from `issueLineReplyToken`, single use, ≤ 5 text messages of
 *   ≤ 5,000 UTF-16 units), `push` (`X-Line-Retry-Key`: a key already accepted gets 409, nothing recorded
 *   twice), `loading`.
 * - Slack (`/slack/api/<method>`): `chat.postMessage`, `chat.postEphemeral`, `chat.update`, `chat.startStream`,
 *   `chat.appendStream`, `chat.stopStream` (a stream idle longer than `setSlackStreamIdleMs` answers
 *   `message_not_in_streaming_state`), `auth.test`; Block Kit limits checked (`invalid_blocks`).
 * - Discord (`/discord/api/v10/...`): `editOriginal` (PATCH `/webhooks/{app}/{token}/messages/@original`),
 *   `followup` (POST `/webhooks/{app}/{token}`), `editFollowup`, `createMessage` (POST
 *   `/channels/{id}/messages`; a repeated `nonce` with `enforce_nonce` returns the first message), `editMessage`,
 *   `typing`. Interaction tokens map to channels through `registerDiscordInteraction`.
 * - Telegram (`/telegram/bot<token>/<method>`): `sendMessage`, `editMessageText`, `sendMessageDraft` (private
 *   chats only), `answerCallbackQuery`, `sendChatAction`, `getMe`, `sendDocument` (multipart). With `parse_mode: "HTML"` the text must
 *   parse (known tags, balanced, `<` and `&` escaped) and its visible text is what counts toward 4,096.
 * - Files (`files()`): Telegram `sendDocument`, Discord messages and follow-ups with `files[n]` +
 *   `payload_json`, Slack `files.getUploadURLExternal` → POST to the returned URL (`upload`) →
 *   `files.completeUploadExternal`; each records name, size and content.
 * - Files people send (`hostFile`): Telegram `getFile` + `/file/bot<token>/<path>`, Slack `url_private`
 *   (bearer bot token, else the HTML sign-in page), Discord signed CDN URLs, LINE
 *   `/v2/bot/message/<id>/content` (bearer channel token, else 401); see platform-simulator/files.ts.
 * - Every message records its buttons (Slack actions, Discord components, Telegram inline keyboard, LINE
 *   quick reply) and whether only one person sees it (`ephemeralTo`).
 *
 * Faults (`fail`) answer as the platform does (429 with its `retry_after`, 5xx, refusals); delays (`delay`)
 * hold a request, visible meanwhile in `inFlight`, then carry it out, or drop the connection (`drop`: a
 * request lost on the way). A request the client abandons (timeout, crash) is still carried out when its
 * delay ends, as a real platform would: that is what the idempotency keys are for. `skip` lets the first
 * matching calls through, to hit e.g. the second chunk of a message.
 */

export interface SimulatorBaseUrls {
  readonly LINE_API_BASE_URL: string;
  /** Where LINE content (files people send) is served: the same server. */
  readonly LINE_DATA_API_BASE_URL: string;
  readonly SLACK_API_URL: string;
  readonly DISCORD_API_URL: string;
  readonly TELEGRAM_API_ROOT: string;
}

export interface SimCall {
  readonly seq: number;
  readonly platform: SimPlatform;
  readonly endpoint: string;
  readonly method: string;
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
  readonly status: number;
  /** A resend the platform recognised (LINE retry key, Discord nonce): answered, nothing new posted. */
  readonly duplicate: boolean;
  /** When the answer went out. */
  readonly at: number;
  /** When the request arrived (before any injected delay): what rate limits are measured on. */
  readonly receivedAt: number;
}

export interface Match {
  readonly platform?: SimPlatform;
  readonly endpoint?: string;
}

interface Injection extends Match {
  /** How many matching calls are affected. Default 1. */
  readonly times?: number;
  /** Matching calls let through untouched first (e.g. 1 to hit a message's second chunk). Default 0. */
  readonly skip?: number;
}

export interface FaultSpec extends Injection {
  /** HTTP status to answer with (Slack 4xx faults become `200 {ok: false, error}`, as Slack does). */
  readonly status: number;
  /** For 429: the wait asked for, in seconds (header and body, as the platform sends it). */
  readonly retryAfterSeconds?: number;
  /** Error text (Slack: the `error` code). */
  readonly description?: string;
  /** The whole response body, replacing the platform-shaped one (e.g. a Discord error `code`). */
  readonly body?: unknown;
  /** Discord: a 429 of the global limit (`X-RateLimit-Global`). */
  readonly global?: boolean;
}

export interface DelaySpec extends Injection {
  readonly ms: number;
  /** After the delay, drop the connection without carrying the request out (a request lost on the way). */
  readonly drop?: boolean;
}

export class PlatformSimulator {
  readonly url: string;
  readonly #server: Server;
  #calls: SimCall[] = [];
  #faults: (FaultSpec & Pending)[] = [];
  #delays: (DelaySpec & Pending)[] = [];
  readonly #apis = new PlatformApis();
  readonly #hosted = new HostedFiles();
  #discordGatewayApi: string | undefined;
  #inFlight = new Set<Match & { body: Record<string, unknown> }>();
  #seq = 0;

  static async start(): Promise<PlatformSimulator> {
    let sim: PlatformSimulator | undefined;
    const server = createServer((req, res) => {
      if (!sim) return send(res, { status: 503, body: { message: "starting" } });
      sim
        .#handle(req, res)
        .catch((error: unknown) => send(res, { status: 500, body: { message: String(error) } }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    sim = new PlatformSimulator(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    sim.#apis.baseUrl = sim.url;
    return sim;
  }

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** The values of each platform's base-URL setting. */
  baseUrls(): SimulatorBaseUrls {
    return {
      LINE_API_BASE_URL: this.url,
      LINE_DATA_API_BASE_URL: this.url,
      SLACK_API_URL: `${this.url}/slack/api`,
      DISCORD_API_URL: `${this.url}/discord/api`,
      TELEGRAM_API_ROOT: `${this.url}/telegram`,
    };
  }

  calls(filter: Match & { status?: number } = {}): SimCall[] {
    return this.#calls.filter(
      (c) =>
        matches(filter, c.platform, c.endpoint) &&
        (filter.status === undefined || c.status === filter.status),
    );
  }

  messages(filter: Match & { conversation?: string } = {}): SimMessage[] {
    return this.#apis.messages.filter(
      (m) =>
        matches(filter, m.platform, m.via) &&
        (filter.conversation === undefined || m.conversation === filter.conversation),
    );
  }

  /** Files shared, oldest first. */
  files(filter: { platform?: SimPlatform; conversation?: string } = {}): SimFile[] {
    return this.#apis.files.filter(
      (f) =>
        (filter.platform === undefined || f.platform === filter.platform) &&
        (filter.conversation === undefined || f.conversation === filter.conversation),
    );
  }

  /** Requests received and not yet answered (held by a delay). */
  inFlight(filter: Match = {}): { platform: SimPlatform; endpoint: string; body: Record<string, unknown> }[] {
    return [...this.#inFlight].flatMap((r) =>
      r.platform && r.endpoint && matches(filter, r.platform, r.endpoint)
        ? [{ platform: r.platform, endpoint: r.endpoint, body: r.body }]
        : [],
    );
  }

  /** Messages posted to a conversation, oldest first, with their current (edited) text. */
  messagesTo(conversation: string | number, platform?: SimPlatform): SimMessage[] {
    return this.messages({ conversation: String(conversation), ...(platform && { platform }) });
  }

  /** Resolves once `predicate` holds; rejects after `timeoutMs`. */
  async waitFor(predicate: (sim: PlatformSimulator) => boolean, timeoutMs = 5_000, what = "condition") {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline)
        throw new Error(`simulator: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  fail(spec: FaultSpec): void {
    this.#faults.push({ ...spec, left: spec.times ?? 1, skipLeft: spec.skip ?? 0 });
  }

  delay(spec: DelaySpec): void {
    this.#delays.push({ ...spec, left: spec.times ?? 1, skipLeft: spec.skip ?? 0 });
  }

  /** A fresh LINE reply token answering `to` (single use, valid `ttlMs`). */
  issueLineReplyToken(to: string, ttlMs = 60_000): string {
    const token = randomUUID().replaceAll("-", "");
    this.#apis.lineTokens.set(token, { to, expiresAt: Date.now() + ttlMs, used: false });
    return token;
  }

  /** Telegram drafts shown in a private chat (`sendMessageDraft`), by draft id, each update's text in order. */
  telegramDrafts(chatId: string | number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [key, texts] of this.#apis.telegramDrafts) {
      const [chat, draft = ""] = key.split(":");
      if (chat === String(chatId)) out.set(draft, texts);
    }
    return out;
  }

  /** Telegram callback queries answered (`answerCallbackQuery`), in order. */
  callbackAnswers(): { id: string; text: string }[] {
    return [...this.#apis.callbackAnswers];
  }

  /** How long a Slack stream may go without an append before it is no longer streaming. */
  setSlackStreamIdleMs(ms: number): void {
    this.#apis.slackStreamIdleMs = ms;
  }

  /**
   * Deletes a posted message (as a person in the chat would): later edits of it fail as on the platform
   * (Telegram "message to edit not found", Discord 10008 Unknown Message, Slack `message_not_found`).
   */
  deleteMessage(platform: SimPlatform, id: string): boolean {
    return this.#apis.delete(platform, id);
  }

  /**
   * Makes a file available as the platform would serve one a person sent (see `HostedFiles`): what a
   * webhook needs to point at it comes back. With `token`, the download must carry it (Telegram: in the
   * path; Slack, LINE: `Authorization: Bearer`). Downloads are recorded in `calls` (endpoints `getFile`,
   * `file`, `files-pri`, `cdn`, `content`).
   */
  hostFile(file: HostedFile): HostedRef {
    return this.#hosted.host(this.url, file);
  }

  /**
   * Answers Discord's `GET /gateway/bot` by asking a `FakeDiscordGateway` (its `apiUrl`), so that one
   * DISCORD_API_URL serves both the REST replies here and the Gateway there.
   */
  useDiscordGateway(apiUrl: string): void {
    this.#discordGatewayApi = apiUrl.replace(/\/+$/, "");
  }

  /** Tells the simulator which channel a Discord interaction token answers in. */
  registerDiscordInteraction(token: string, channelId: string): void {
    this.#apis.discordInteractions.set(token, channelId);
  }

  /** Forgets calls, messages, faults and delays (not tokens or registrations). */
  reset(): void {
    this.#calls = [];
    this.#apis.messages = [];
    this.#apis.files = [];
    this.#faults = [];
    this.#delays = [];
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const path = decodeURIComponent(url.pathname);
    const file = this.#hosted.serve(method, path, url.searchParams, req.headers.authorization);
    if (file) {
      const platform = path.startsWith("/telegram/")
        ? "telegram"
        : path.startsWith("/slack/")
          ? "slack"
          : path.startsWith("/discord/")
            ? "discord"
            : "line";
      this.#calls.push({
        seq: ++this.#seq,
        platform,
        endpoint: file.endpoint,
        method,
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: {},
        status: file.status,
        duplicate: false,
        at: Date.now(),
        receivedAt,
      });
      res.writeHead(file.status, { "content-type": file.contentType, "content-length": file.body.length });
      res.end(file.body);
      return;
    }
    const gatewayBot = /^\/discord\/api(\/v\d+\/gateway\/bot)$/.exec(path)?.[1];
    if (gatewayBot && this.#discordGatewayApi !== undefined) {
      const auth = req.headers.authorization;
      const answer = await fetch(`${this.#discordGatewayApi}${gatewayBot}`, {
        headers: auth === undefined ? {} : { authorization: auth },
      });
      return send(res, { status: answer.status, body: await answer.json() });
    }
    const route = routeOf(method, path);
    if (!route) return send(res, { status: 404, body: { message: "Not found" } });
    const body = await parseBody(raw, req.headers["content-type"]);
    const delay = take(this.#delays, route);
    if (delay) {
      const request = { platform: route.platform, endpoint: route.endpoint, body };
      this.#inFlight.add(request);
      await new Promise((resolve) => setTimeout(resolve, delay.ms));
      this.#inFlight.delete(request);
      if (delay.drop) {
        res.destroy();
        return;
      }
    }
    const fault = take(this.#faults, route);
    let reply: Reply;
    if (fault) reply = faultReply(route.platform, fault);
    else if (!authorised(route.platform, req)) reply = faultReply(route.platform, { status: 401 });
    else reply = this.#apis.serve(route, body, req.headers);
    this.#calls.push({
      seq: ++this.#seq,
      platform: route.platform,
      endpoint: route.endpoint,
      method,
      path,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      body,
      status: reply.status,
      duplicate: reply.duplicate ?? false,
      at: Date.now(),
      receivedAt,
    });
    send(res, reply);
  }
}

function matches(filter: Match, platform: SimPlatform, endpoint: string): boolean {
  return (
    (filter.platform === undefined || filter.platform === platform) &&
    (filter.endpoint === undefined || filter.endpoint === endpoint)
  );
}

interface Pending {
  left: number;
  skipLeft: number;
}

/** The first injection that applies to this call, counting it against the injection. */
function take<T extends Match & Pending>(specs: T[], route: Route): T | undefined {
  for (const spec of specs) {
    if (spec.left <= 0 || !matches(spec, route.platform, route.endpoint)) continue;
    if (spec.skipLeft > 0) {
      spec.skipLeft--;
      continue;
    }
    spec.left--;
    return spec;
  }
  return undefined;
}

/**
 * The request's fields. Multipart: text fields as strings (`payload_json` merged in, as Discord reads it),
 * file parts as `UploadedPart`s.
 */
async function parseBody(bytes: Buffer, contentType: string | undefined): Promise<Record<string, unknown>> {
  if (bytes.length === 0) return {};
  if (contentType?.includes("multipart/form-data")) {
    const form = await new Response(new Uint8Array(bytes), {
      headers: { "content-type": contentType },
    }).formData();
    const out: Record<string, unknown> = {};
    for (const [k, v] of form) {
      if (typeof v === "string") out[k] = /^[[{]/.test(v) ? safeJson(v) : v;
      else {
        const data = Buffer.from(await v.arrayBuffer());
        out[k] = {
          upload: true,
          name: v.name,
          size: data.length,
          content: data.toString("utf8"),
          sha256: createHash("sha256").update(data).digest("hex"),
        };
      }
    }
    const payload = out.payload_json;
    return typeof payload === "object" && payload !== null ? { ...out, ...payload } : out;
  }
  const raw = bytes.toString("utf8");
  if (contentType?.includes("application/x-www-form-urlencoded")) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(raw)) out[k] = /^[[{]/.test(v) ? safeJson(v) : v;
    return out;
  }
  const parsed = safeJson(raw);
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : { raw };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.writableEnded || res.destroyed) return;
  const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(text && { "content-type": "application/json" }),
    "content-length": Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}
