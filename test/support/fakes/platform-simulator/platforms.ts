import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { serveDiscord } from "./discord.ts";
import { serveLine } from "./line.ts";
import { serveSlack } from "./slack.ts";
import { serveTelegram } from "./telegram.ts";

export { telegramVisible } from "./telegram.ts";

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

/** A file a bot uploaded: Telegram `sendDocument`, a Discord attachment, a Slack external upload. */
export interface SimFile {
  readonly platform: SimPlatform;
  readonly conversation: string;
  readonly name: string;
  readonly size: number;
  /** The file's bytes as UTF-8 text. */
  readonly content: string;
  /** SHA-256 of the file's bytes, hex (binary files). */
  readonly sha256: string;
  /** The endpoint that shared it. */
  readonly via: string;
  readonly threadId?: string | undefined;
  readonly at: number;
}

/** A file part of a multipart request, as `parseBody` gives it. */
export interface UploadedPart {
  readonly upload: true;
  readonly name: string;
  readonly size: number;
  readonly content: string;
  readonly sha256: string;
}

export const isUpload = (v: unknown): v is UploadedPart =>
  typeof v === "object" && v !== null && (v as { upload?: unknown }).upload === true;

export type Reply = { status: number; body: unknown; headers?: Record<string, string>; duplicate?: boolean };

export interface FaultReplySpec {
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly description?: string;
  readonly body?: unknown;
  /** Discord: a 429 of the global limit (every route of the bot). */
  readonly global?: boolean;
}

/** The simulated chats: messages posted, reply tokens, retry keys and nonces seen. */
export class PlatformApis {
  messages: SimMessage[] = [];
  /** Files shared in chats. */
  files: SimFile[] = [];
  /** Slack external uploads: what `files.getUploadURLExternal` promised, then what was uploaded. */
  readonly slackUploads = new Map<string, { name: string; length: number; data?: UploadedPart }>();
  /** The simulator's own URL (Slack upload URLs point back at it). */
  baseUrl = "";
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
        return serveLine(this, route.endpoint, body, headers["x-line-retry-key"]);
      case "slack":
        return serveSlack(this, route.endpoint, body, route.params);
      case "discord":
        return serveDiscord(this, route, body);
      case "telegram":
        return serveTelegram(this, route.endpoint, body);
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

  /** Deletes a message, as its author or an admin would; false if there was none. */
  delete(platform: SimPlatform, id: string): boolean {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => !(m.platform === platform && m.id === id));
    return this.messages.length < before;
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
  const upload = /^\/slack\/upload\/([\w-]+)$/.exec(path);
  if (upload?.[1] && method === "POST")
    return { platform: "slack", endpoint: "upload", method, params: { file: upload[1] } };
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
  // Slack's upload URLs are pre-signed.
  if (platform === "slack" && req.url?.startsWith("/slack/upload/")) return true;
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
    case "discord": {
      const global = fault.global === true;
      return {
        status,
        headers:
          status === 429
            ? {
                ...headers,
                "x-ratelimit-scope": global ? "global" : "user",
                ...(global && { "x-ratelimit-global": "true" }),
              }
            : headers,
        body:
          status === 429
            ? { message: "You are being rate limited.", retry_after: wait ?? 1, global }
            : { message: description, code: 0 },
      };
    }
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
