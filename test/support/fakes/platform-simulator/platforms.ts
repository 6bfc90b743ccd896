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
  /** Buttons under it, normalised: Slack actions, Discord components, Telegram keyboard, LINE quick reply. */
  buttons: { label: string; value: string }[];
  /** Telegram `parse_mode`. */
  parseMode?: string | undefined;
  /** Seen only by this user (Slack ephemeral, Discord ephemeral follow-up, Telegram callback answer). */
  ephemeralTo?: string | undefined;
  /** Slack: still streaming (`chat.startStream` until `chat.stopStream`). */
  streaming?: boolean | undefined;
  /** When it was last appended to or edited (Slack stream expiry). */
  touchedAt: number;
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
  /** Telegram drafts by chat and draft id: the text each `sendMessageDraft` showed, in order. */
  readonly telegramDrafts = new Map<string, string[]>();
  /** Telegram callback queries answered, with their text. */
  readonly callbackAnswers: { id: string; text: string }[] = [];
  /** A Slack stream with no append for this long is no longer streaming (real Slack: minutes). */
  slackStreamIdleMs = 5 * 60_000;
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
      buttons: [],
      touchedAt: Date.now(),
    };
    this.messages.push(message);
    return message;
  }

  line(endpoint: string, body: Record<string, unknown>, retryKey: string | string[] | undefined): Reply {
    if (endpoint === "loading") return { status: 202, body: {} };
    const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
    const invalid = messages.findIndex(
      (m) => m.type !== "text" || !isText(m.text, 5_000) || !quickReplyOk(m),
    );
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
      const items = (m.quickReply as { items?: { action?: { label?: string; data?: string } }[] } | undefined)
        ?.items;
      posted.buttons = (items ?? []).map((i) => ({
        label: String(i.action?.label),
        value: String(i.action?.data),
      }));
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
    const markdown = typeof body.markdown_text === "string" ? body.markdown_text : "";
    const threadTs = typeof body.thread_ts === "string" ? body.thread_ts : undefined;
    const newTs = () => `${Math.floor(Date.now() / 1000)}.${String(++this.ids).padStart(6, "0")}`;
    const find = () => this.messages.find((m) => m.platform === "slack" && m.id === body.ts);
    const blocksError = slackBlocksError(body.blocks);
    if (blocksError) return error(blocksError);
    const buttons = slackButtons(body.blocks);
    switch (endpoint) {
      case "auth.test":
        return ok({ user_id: "UBOT", team_id: "T1", bot_id: "B1" });
      case "chat.postMessage":
      case "chat.postEphemeral": {
        if (!channel) return error("channel_not_found");
        if (!text && body.blocks === undefined) return error("no_text");
        if (text.length > 40_000) return error("msg_too_long");
        const ts = newTs();
        const posted = this.post("slack", endpoint, channel, text, { id: ts, threadId: threadTs });
        posted.buttons = buttons;
        if (endpoint === "chat.postEphemeral") {
          if (typeof body.user !== "string") return error("user_not_found");
          posted.ephemeralTo = body.user;
          return ok({ message_ts: ts });
        }
        return ok({ channel, ts, message: { text, ts, ...(threadTs && { thread_ts: threadTs }) } });
      }
      case "chat.update": {
        const target = find();
        if (!target || target.conversation !== channel) return error("message_not_found");
        if (target.streaming) return error("message_is_streaming");
        target.text = text;
        target.buttons = buttons;
        target.edits++;
        target.touchedAt = Date.now();
        return ok({ channel, ts: target.id, text });
      }
      case "chat.startStream": {
        if (!channel) return error("channel_not_found");
        if (!threadTs) return error("invalid_arguments");
        // Outside DMs a stream needs the person it answers.
        if (!channel.startsWith("D") && (!body.recipient_user_id || !body.recipient_team_id))
          return error("missing_recipient_user_id");
        if (markdown.length > 12_000) return error("msg_too_long");
        const ts = newTs();
        const posted = this.post("slack", endpoint, channel, markdown, { id: ts, threadId: threadTs });
        posted.streaming = true;
        return ok({ channel, ts });
      }
      case "chat.appendStream":
      case "chat.stopStream": {
        const target = find();
        if (!target || target.conversation !== channel) return error("message_not_found");
        if (target.streaming && Date.now() - target.touchedAt > this.slackStreamIdleMs)
          target.streaming = false;
        if (!target.streaming) return error("message_not_in_streaming_state");
        if (endpoint === "chat.appendStream" && !markdown) return error("invalid_arguments");
        if (target.text.length + markdown.length > 40_000 || markdown.length > 12_000)
          return error("msg_too_long");
        target.text += markdown;
        target.edits++;
        target.touchedAt = Date.now();
        if (endpoint === "chat.stopStream") {
          target.streaming = false;
          target.buttons = buttons;
        }
        return ok({ channel, ts: target.id });
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
      m.touchedAt = Date.now();
      return withButtons(asMessage(m), m);
    };
    const token = route.params.token ?? "";
    const channel = route.params.channel ?? this.discordInteractions.get(token) ?? `interaction:${token}`;
    const rows = Array.isArray(body.components)
      ? (body.components as { components?: unknown[] }[])
      : undefined;
    const buttons = (rows ?? []).flatMap((r) =>
      (r.components ?? []).map((c) => {
        const b = c as { label?: string; custom_id?: string };
        return { label: String(b.label), value: String(b.custom_id) };
      }),
    );
    if (buttons.some((b) => b.value.length > 100 || b.label.length > 80)) {
      return { status: 400, body: { code: 50035, message: "Invalid Form Body" } };
    }
    const withButtons = (reply: Reply, m: SimMessage | undefined): Reply => {
      if (m && rows !== undefined) m.buttons = buttons;
      if (m && (Number(body.flags ?? 0) & 64) !== 0) m.ephemeralTo = "interaction-user";
      return reply;
    };
    switch (route.endpoint) {
      case "typing":
        return { status: 204, body: undefined };
      case "editOriginal": {
        const id = `original:${token}`;
        const existing = this.messages.find((m) => m.platform === "discord" && m.id === id);
        if (existing) return edit(existing);
        const created = this.post("discord", "editOriginal", channel, content, { id });
        return withButtons(asMessage(created), created);
      }
      case "followup": {
        const created = this.post("discord", "followup", channel, content);
        return withButtons(asMessage(created), created);
      }
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
        return withButtons(asMessage(posted), posted);
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
    const html = body.parse_mode === "HTML";
    // Telegram counts the limit after entity parsing, and refuses HTML it cannot parse.
    const visible = html ? telegramVisible(text) : text;
    if (html && visible === undefined) return bad("can't parse entities: unsupported or unbalanced tag");
    const keyboard = (body.reply_markup as { inline_keyboard?: { text: string; callback_data: string }[][] })
      ?.inline_keyboard;
    const buttons = (keyboard ?? []).flat().map((b) => ({ label: b.text, value: b.callback_data }));
    if (buttons.some((b) => Buffer.byteLength(b.value) > 64)) return bad("BUTTON_DATA_INVALID");
    switch (endpoint) {
      case "getMe":
        return ok({ id: 123456789, is_bot: true, first_name: "Claude", username: "cloudclaude_bot" });
      case "sendChatAction":
        return ok(true);
      case "answerCallbackQuery": {
        this.callbackAnswers.push({ id: String(body.callback_query_id), text: String(body.text ?? "") });
        return ok(true);
      }
      case "sendMessageDraft": {
        if (!(Number(chat) > 0)) return bad("TEXTDRAFT_PEER_INVALID");
        if (!body.draft_id) return bad("draft_id is empty");
        if ((visible ?? "").length > 4_096) return bad("message is too long");
        const key = `${chat}:${body.draft_id}`;
        this.telegramDrafts.set(key, [...(this.telegramDrafts.get(key) ?? []), text]);
        return ok(true);
      }
      case "sendMessage": {
        if (!chat) return bad("chat_id is empty");
        if (!(visible ?? "").trim()) return bad("message text is empty");
        if ((visible ?? "").length > 4_096) return bad("message is too long");
        const reply = body.reply_parameters as { message_id?: number } | undefined;
        const posted = this.post("telegram", endpoint, chat, text, {
          threadId: body.message_thread_id === undefined ? undefined : String(body.message_thread_id),
          replyTo: reply?.message_id === undefined ? undefined : String(reply.message_id),
        });
        posted.buttons = buttons;
        posted.parseMode = typeof body.parse_mode === "string" ? body.parse_mode : undefined;
        return ok(asMessage(posted));
      }
      case "editMessageText": {
        const target = this.messages.find(
          (m) => m.platform === "telegram" && m.conversation === chat && m.id === String(body.message_id),
        );
        if (!target) return bad("message to edit not found");
        if ((visible ?? "").length > 4_096) return bad("message is too long");
        if (target.text === text && JSON.stringify(target.buttons) === JSON.stringify(buttons))
          return bad("message is not modified");
        target.text = text;
        target.buttons = buttons;
        target.parseMode = typeof body.parse_mode === "string" ? body.parse_mode : undefined;
        target.edits++;
        target.touchedAt = Date.now();
        return ok(asMessage(target));
      }
      default:
        return { status: 404, body: { ok: false, error_code: 404, description: "Not Found" } };
    }
  }
}

const TELEGRAM_TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "code",
  "pre",
  "a",
  "blockquote",
  "tg-spoiler",
  "span",
]);

/** The text Telegram shows for an HTML message, or undefined when it would refuse to parse it. */
export function telegramVisible(html: string): string | undefined {
  const open: string[] = [];
  for (const match of html.matchAll(/<(\/?)([a-z-]+)([^>]*)>|<|&(?!(?:lt|gt|amp|quot|#\d+);)/g)) {
    if (match[0] === "<" || match[0] === "&") return undefined; // a raw < or & must be escaped
    const [, closing, tag = ""] = match;
    if (!TELEGRAM_TAGS.has(tag)) return undefined;
    if (closing) {
      if (open.pop() !== tag) return undefined;
    } else open.push(tag);
  }
  if (open.length > 0) return undefined;
  return html
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}

/** Slack's Block Kit limits (50 blocks, section text 3,000, button value 2,000): the error code, if any. */
function slackBlocksError(blocks: unknown): string | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || blocks.length > 50) return "invalid_blocks";
  for (const block of blocks as {
    type?: string;
    text?: { text?: string };
    elements?: { value?: string }[];
  }[]) {
    if (block.type === "section" && (block.text?.text?.length ?? 0) > 3_000) return "invalid_blocks";
    if (block.type === "actions" && (block.elements ?? []).some((e) => (e.value?.length ?? 0) > 2_000))
      return "invalid_blocks";
  }
  return undefined;
}

function slackButtons(blocks: unknown): { label: string; value: string }[] {
  if (!Array.isArray(blocks)) return [];
  return (blocks as { type?: string; elements?: { text?: { text?: string }; value?: string }[] }[])
    .filter((b) => b.type === "actions")
    .flatMap((b) => (b.elements ?? []).map((e) => ({ label: String(e.text?.text), value: String(e.value) })));
}

function quickReplyOk(message: Record<string, unknown>): boolean {
  const items = (
    message.quickReply as { items?: { action?: { label?: string; data?: string } }[] } | undefined
  )?.items;
  if (items === undefined) return true;
  return (
    items.length <= 13 &&
    items.every((i) => (i.action?.label?.length ?? 0) <= 20 && (i.action?.data?.length ?? 0) <= 300)
  );
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
