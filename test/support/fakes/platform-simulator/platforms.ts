import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/**
 * The platforms' endpoints behind `PlatformSimulator` (see there): what each call does to the simulated
 * chat, and the error bodies each platform answers with.
 */

export type SimPlatform = "line" | "slack" | "discord" | "telegram";

export interface SimMessage {
  readonly platform: SimPlatform;
  /** LINE `to` (user/group/room id), Slack channel, Discord channel id, Telegram chat id. */
  readonly conversation: string;
  readonly id: string;
  text: string;
  /** Slack `thread_ts`, Telegram `message_thread_id`. */
  readonly threadId: string | undefined;
  /** The message answered: LINE reply token, Discord `message_reference`, Telegram `reply_parameters`. */
  readonly replyTo: string | undefined;
  /** The endpoint that created it. */
  readonly via: string;
  edits: number;
  readonly createdAt: number;
}

export type Reply = { status: number; body: unknown; headers?: Record<string, string>; duplicate?: boolean };

export interface FaultReplySpec {
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly description?: string;
  readonly body?: unknown;
}

/** The simulated chats: messages posted, reply tokens, retry keys and nonces seen. */
export class PlatformApis {
  messages: SimMessage[] = [];
  readonly lineTokens = new Map<string, { to: string; expiresAt: number; used: boolean }>();
  readonly lineRetryKeys = new Map<string, Reply>();
  readonly discordInteractions = new Map<string, string>();
  readonly discordNonces = new Map<string, SimMessage>();
  ids = 1_000;

  serve(route: Route, body: Record<string, unknown>, headers: IncomingHttpHeaders): Reply {
    switch (route.platform) {
      case "line":
        return this.line(route.endpoint, body, headers["x-line-retry-key"]);
      case "slack":
        return this.slack(route.endpoint, body);
      case "discord":
        return this.discord(route, body);
      case "telegram":
        return this.telegram(route.endpoint, body);
    }
  }

  post(
    platform: SimPlatform,
    via: string,
    conversation: string,
    text: string,
    extra: { threadId?: string | undefined; replyTo?: string | undefined; id?: string } = {},
  ): SimMessage {
    const message: SimMessage = {
      platform,
      conversation,
      id: extra.id ?? String(++this.ids),
      text,
      threadId: extra.threadId,
      replyTo: extra.replyTo,
      via,
      edits: 0,
      createdAt: Date.now(),
    };
    this.messages.push(message);
    return message;
  }

  line(endpoint: string, body: Record<string, unknown>, retryKey: string | string[] | undefined): Reply {
    if (endpoint === "loading") return { status: 202, body: {} };
    const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
    const invalid = messages.findIndex((m) => m.type !== "text" || !isText(m.text, 5_000));
    if (messages.length < 1 || messages.length > 5 || invalid >= 0) {
      return {
        status: 400,
        body: { message: "The request body has 1 error(s)", details: [{ property: "messages" }] },
      };
    }
    let to: string;
    if (endpoint === "reply") {
      const token = this.lineTokens.get(String(body.replyToken));
      if (!token || token.used || token.expiresAt < Date.now()) {
        return { status: 400, body: { message: "Invalid reply token" } };
      }
      token.used = true;
      to = token.to;
    } else {
      to = String(body.to ?? "");
      if (!to)
        return { status: 400, body: { message: "The property, 'to', in the request body is invalid" } };
      const key = typeof retryKey === "string" ? retryKey : undefined;
      const accepted = key && this.lineRetryKeys.get(key);
      if (accepted) return { ...accepted, status: 409, duplicate: true };
    }
    const sent = messages.map((m) => {
      const posted = this.post("line", endpoint, to, String(m.text), {
        replyTo: endpoint === "reply" ? String(body.replyToken) : undefined,
      });
      return { id: posted.id, quoteToken: `q${posted.id}` };
    });
    const reply: Reply = {
      status: 200,
      body: { sentMessages: sent },
      headers: { "x-line-request-id": randomUUID() },
    };
    if (typeof retryKey === "string") {
      const requestId = reply.headers?.["x-line-request-id"] ?? "";
      this.lineRetryKeys.set(retryKey, {
        status: 409,
        body: { message: "The retry key is already accepted", sentMessages: sent },
        headers: { "x-line-accepted-request-id": requestId },
      });
    }
    return reply;
  }

  slack(endpoint: string, body: Record<string, unknown>): Reply {
    const ok = (extra: Record<string, unknown>): Reply => ({ status: 200, body: { ok: true, ...extra } });
    const error = (code: string): Reply => ({ status: 200, body: { ok: false, error: code } });
    const channel = typeof body.channel === "string" ? body.channel : "";
    const text = typeof body.text === "string" ? body.text : "";
    switch (endpoint) {
      case "auth.test":
        return ok({ user_id: "UBOT", team_id: "T1", bot_id: "B1" });
      case "chat.postMessage": {
        if (!channel) return error("channel_not_found");
        if (!text && body.blocks === undefined) return error("no_text");
        if (text.length > 40_000) return error("msg_too_long");
        const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.ids).padStart(6, "0")}`;
        const threadTs = typeof body.thread_ts === "string" ? body.thread_ts : undefined;
        this.post("slack", endpoint, channel, text, { id: ts, threadId: threadTs });
        return ok({ channel, ts, message: { text, ts, ...(threadTs && { thread_ts: threadTs }) } });
      }
      case "chat.update": {
        const target = this.messages.find((m) => m.platform === "slack" && m.id === body.ts);
        if (!target || target.conversation !== channel) return error("message_not_found");
        target.text = text;
        target.edits++;
        return ok({ channel, ts: target.id, text });
      }
      default:
        return error("unknown_method");
    }
  }

  discord(route: Route, body: Record<string, unknown>): Reply {
    const content = typeof body.content === "string" ? body.content : "";
    if ((route.method === "POST" || route.method === "PATCH") && route.endpoint !== "typing") {
      if (content.length > 2_000 || (route.endpoint !== "editOriginal" && content.length === 0)) {
        return { status: 400, body: { code: 50035, message: "Invalid Form Body" } };
      }
    }
    const asMessage = (m: SimMessage): Reply => ({
      status: 200,
      body: { id: m.id, channel_id: m.conversation, content: m.text, nonce: body.nonce },
    });
    const edit = (m: SimMessage | undefined): Reply => {
      if (!m) return { status: 404, body: { code: 10008, message: "Unknown Message" } };
      m.text = content;
      m.edits++;
      return asMessage(m);
    };
    const token = route.params.token ?? "";
    const channel = route.params.channel ?? this.discordInteractions.get(token) ?? `interaction:${token}`;
    switch (route.endpoint) {
      case "typing":
        return { status: 204, body: undefined };
      case "editOriginal": {
        const id = `original:${token}`;
        const existing = this.messages.find((m) => m.platform === "discord" && m.id === id);
        return existing
          ? edit(existing)
          : asMessage(this.post("discord", "editOriginal", channel, content, { id }));
      }
      case "followup":
        return asMessage(this.post("discord", "followup", channel, content));
      case "editFollowup":
      case "editMessage":
        return edit(this.messages.find((m) => m.platform === "discord" && m.id === route.params.message));
      default: {
        const nonceKey =
          body.enforce_nonce === true && body.nonce !== undefined ? `${channel}:${body.nonce}` : "";
        const seen = nonceKey ? this.discordNonces.get(nonceKey) : undefined;
        if (seen) return { ...asMessage(seen), duplicate: true };
        const ref = body.message_reference as { message_id?: string } | undefined;
        const posted = this.post("discord", "createMessage", channel, content, { replyTo: ref?.message_id });
        if (nonceKey) this.discordNonces.set(nonceKey, posted);
        return asMessage(posted);
      }
    }
  }

  telegram(endpoint: string, body: Record<string, unknown>): Reply {
    const ok = (result: unknown): Reply => ({ status: 200, body: { ok: true, result } });
    const bad = (description: string): Reply => ({
      status: 400,
      body: { ok: false, error_code: 400, description: `Bad Request: ${description}` },
    });
    const chat = String(body.chat_id ?? "");
    const text = typeof body.text === "string" ? body.text : "";
    const asMessage = (m: SimMessage) => ({
      message_id: Number(m.id),
      date: Math.floor(m.createdAt / 1000),
      chat: { id: Number(chat), type: Number(chat) > 0 ? "private" : "supergroup" },
      text: m.text,
      ...(m.threadId && { message_thread_id: Number(m.threadId) }),
    });
    switch (endpoint) {
      case "getMe":
        return ok({ id: 123456789, is_bot: true, first_name: "Claude", username: "cloudclaude_bot" });
      case "sendChatAction":
        return ok(true);
      case "sendMessage": {
        if (!chat) return bad("chat_id is empty");
        if (!text.trim()) return bad("message text is empty");
        if (text.length > 4_096) return bad("message is too long");
        const reply = body.reply_parameters as { message_id?: number } | undefined;
        const posted = this.post("telegram", endpoint, chat, text, {
          threadId: body.message_thread_id === undefined ? undefined : String(body.message_thread_id),
          replyTo: reply?.message_id === undefined ? undefined : String(reply.message_id),
        });
        return ok(asMessage(posted));
      }
      case "editMessageText": {
        const target = this.messages.find(
          (m) => m.platform === "telegram" && m.conversation === chat && m.id === String(body.message_id),
        );
        if (!target) return bad("message to edit not found");
        if (target.text === text) return bad("message is not modified");
        target.text = text;
        target.edits++;
        return ok(asMessage(target));
      }
      default:
        return { status: 404, body: { ok: false, error_code: 404, description: "Not Found" } };
    }
  }
}

export interface Route {
  readonly platform: SimPlatform;
  readonly endpoint: string;
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
}

const DISCORD_ROUTES: [string, RegExp, string][] = [
  ["PATCH", /^\/webhooks\/(?<app>[^/]+)\/(?<token>[^/]+)\/messages\/@original$/, "editOriginal"],
  ["PATCH", /^\/webhooks\/(?<app>[^/]+)\/(?<token>[^/]+)\/messages\/(?<message>[^/]+)$/, "editFollowup"],
  ["POST", /^\/webhooks\/(?<app>[^/]+)\/(?<token>[^/]+)$/, "followup"],
  ["POST", /^\/channels\/(?<channel>[^/]+)\/messages$/, "createMessage"],
  ["PATCH", /^\/channels\/(?<channel>[^/]+)\/messages\/(?<message>[^/]+)$/, "editMessage"],
  ["POST", /^\/channels\/(?<channel>[^/]+)\/typing$/, "typing"],
];

export function routeOf(method: string, path: string): Route | undefined {
  const line = { "/v2/bot/message/reply": "reply", "/v2/bot/message/push": "push" }[path];
  if (line && method === "POST") return { platform: "line", endpoint: line, method, params: {} };
  if (path === "/v2/bot/chat/loading/start")
    return { platform: "line", endpoint: "loading", method, params: {} };
  const slack = /^\/slack\/api\/([\w.]+)$/.exec(path);
  if (slack?.[1]) return { platform: "slack", endpoint: slack[1], method, params: {} };
  const telegram = /^\/telegram\/bot[^/]+\/(\w+)$/.exec(path);
  if (telegram?.[1]) return { platform: "telegram", endpoint: telegram[1], method, params: {} };
  const discord = /^\/discord\/api\/v\d+(\/.*)$/.exec(path)?.[1];
  if (discord === undefined) return undefined;
  for (const [m, pattern, endpoint] of DISCORD_ROUTES) {
    const match = m === method ? pattern.exec(discord) : null;
    if (match) return { platform: "discord", endpoint, method, params: { ...match.groups } };
  }
  return undefined;
}

export function authorised(platform: SimPlatform, req: IncomingMessage): boolean {
  if (platform === "telegram") return true;
  if (platform === "discord" && req.url?.includes("/webhooks/")) return true;
  return /^(Bearer|Bot) \S+/.test(req.headers.authorization ?? "");
}

export function faultReply(platform: SimPlatform, fault: FaultReplySpec): Reply {
  const { status } = fault;
  const wait = fault.retryAfterSeconds;
  const headers: Record<string, string> = wait === undefined ? {} : { "retry-after": String(wait) };
  if (fault.body !== undefined) return { status, headers, body: fault.body };
  const description = fault.description ?? (status === 429 ? "Too Many Requests" : `simulated ${status}`);
  switch (platform) {
    case "line":
      return { status, headers, body: { message: description } };
    case "slack":
      if (status >= 400 && status < 500 && status !== 429) {
        return { status: 200, body: { ok: false, error: fault.description ?? "channel_not_found" } };
      }
      return { status, headers, body: { ok: false, error: status === 429 ? "ratelimited" : description } };
    case "discord":
      return {
        status,
        headers: status === 429 ? { ...headers, "x-ratelimit-scope": "user" } : headers,
        body:
          status === 429
            ? { message: "You are being rate limited.", retry_after: wait ?? 1, global: false }
            : { message: description, code: 0 },
      };
    case "telegram":
      return {
        status,
        body: {
          ok: false,
          error_code: status,
          description: status === 429 ? `Too Many Requests: retry after ${wait ?? 1}` : description,
          ...(status === 429 && { parameters: { retry_after: wait ?? 1 } }),
        },
      };
  }
}

function isText(value: unknown, max: number): boolean {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}
