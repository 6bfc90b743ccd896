import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Attachment, ConversationRef, InboundEvent, ReplyContext, Sender } from "../event.ts";
import {
  acceptOutcome,
  attachment,
  decodeJson,
  guardedParse,
  must,
  type Range,
  removeRanges,
  webhookPlatform,
} from "./payload.ts";
import {
  type ParseOutcome,
  reject,
  type WebhookPlatform,
  type WebhookRequest,
  type WebhookResult,
} from "./types.ts";

/**
 * Telegram Bot API updates, from the webhook (one `Update` per POST, authenticated by the
 * `X-Telegram-Bot-Api-Secret-Token` header) or from long polling; both go through `parseTelegramUpdate`.
 *
 * Normalisation rules:
 * - `message` and `callback_query` become events; every other update type is ignored. So are the bot's own
 *   messages, callbacks without a chat message (inline-mode messages), and messages with neither text nor a
 *   file we model (service messages such as members joining).
 * - Text is `text`, or `caption` for media. Stickers become `[sticker <emoji>]`, locations
 *   `[location: <lat>, <lon>]`. Files: photo (largest size), document, video, video_note, audio, voice.
 * - A message is addressed to the bot in a private chat, when it mentions `@botUsername` (any case) or the
 *   bot by `text_mention`, when it replies to the bot, or when it holds a command meant for the bot:
 *   `/cmd@botUsername`, or a bare `/cmd` that starts the message (clients send bare commands in groups with
 *   one bot, and under privacy mode Telegram delivers bare commands only to the bot they are for).
 *   `/cmd@otherbot` is never ours. Without a configured username every command counts as ours.
 * - The bot's `@username` mentions are removed from the text, and `/cmd@botUsername` becomes `/cmd`.
 * - `callback_query.message.date` is the date of the bot's message, not of the press, so a callback's
 *   `occurredAt` is `receivedAt`.
 */
export interface TelegramWebhookOptions {
  /** The `secret_token` given to `setWebhook`. */
  readonly secretToken: string;
  /** The bot's user id (the numeric prefix of its token): scopes event ids and recognises own messages. */
  readonly botId?: number | undefined;
  /** The bot's username, with or without `@`, to recognise mentions and commands in groups. */
  readonly botUsername?: string | undefined;
}

export interface TelegramParseContext {
  readonly receivedAt: number;
  readonly botId?: number | undefined;
  readonly botUsername?: string | undefined;
}

/** The bot's user id: a token looks like `123456789:AA…`. */
export function botIdFromToken(token: string): number | undefined {
  const digits = /^(\d{1,16}):/.exec(token)?.[1];
  const id = digits === undefined ? Number.NaN : Number(digits);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

const SECRET_HEADER = "x-telegram-bot-api-secret-token";
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function createTelegramWebhook(options: TelegramWebhookOptions): WebhookPlatform {
  if (!SECRET_TOKEN.test(options.secretToken)) {
    throw new Error("Telegram secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and -");
  }
  const expected = sha256(options.secretToken);
  return webhookPlatform("telegram", (request) => handleTelegram(request, expected, options));
}

function handleTelegram(
  request: WebhookRequest,
  expected: Buffer,
  options: TelegramWebhookOptions,
): WebhookResult {
  const secret = request.headers.get(SECRET_HEADER);
  if (secret === null) return reject(401, "missing secret token");
  // Digests have equal length whatever the header's, so the comparison leaks neither content nor length.
  if (!timingSafeEqual(sha256(secret), expected)) return reject(401, "bad secret token");

  const body = decodeJson(request.body);
  if (!body.ok) return reject(400, body.reason);
  const { botId, botUsername } = options;
  return acceptOutcome(
    parseTelegramUpdate(body.value, { receivedAt: request.receivedAt, botId, botUsername }),
  );
}

const sha256 = (value: string): Buffer => createHash("sha256").update(value).digest();

/** Normalises one authenticated `Update` (webhook body or a `getUpdates` result item). */
export function parseTelegramUpdate(update: unknown, ctx: TelegramParseContext): ParseOutcome {
  return guardedParse(update, () => {
    const parsed = must(UpdateSchema, update, "update");
    const base = {
      eventId: `${ctx.botId ?? "bot"}:${parsed.update_id}`,
      receivedAt: ctx.receivedAt,
      raw: update,
    };
    const event = eventOf(parsed, base, ctx);
    return event === undefined ? [] : [event];
  });
}

// ---- Schemas: only the fields we read.

const int = z.number().int();
const count = int.nonnegative();

const UserSchema = z.object({
  id: int,
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  username: z.string().optional(),
  language_code: z.string().optional(),
});
type User = z.output<typeof UserSchema>;

const ChatSchema = z.object({ id: int, type: z.string(), title: z.string().optional() });
type Chat = z.output<typeof ChatSchema>;

const EntitySchema = z.object({
  type: z.string(),
  offset: count,
  length: count,
  user: UserSchema.optional(),
});
type Entity = z.output<typeof EntitySchema>;

const FileSchema = z.object({
  file_id: z.string().min(1),
  file_name: z.string().optional(),
  mime_type: z.string().optional(),
  file_size: count.optional(),
});
type File = z.output<typeof FileSchema>;

const PhotoSizeSchema = FileSchema.extend({ width: z.number().optional(), height: z.number().optional() });

const UpdateSchema = z.object({
  update_id: int,
  message: z.unknown().optional(),
  callback_query: z.unknown().optional(),
});

const MessageSchema = z.object({
  message_id: int,
  date: int,
  chat: ChatSchema,
  from: UserSchema.optional(),
  message_thread_id: int.optional(),
  is_topic_message: z.boolean().optional(),
  text: z.string().optional(),
  entities: z.array(EntitySchema).optional(),
  caption: z.string().optional(),
  caption_entities: z.array(EntitySchema).optional(),
  reply_to_message: z.object({ from: UserSchema.optional() }).optional(),
  photo: z.array(PhotoSizeSchema).optional(),
  document: FileSchema.optional(),
  video: FileSchema.optional(),
  video_note: FileSchema.optional(),
  audio: FileSchema.optional(),
  voice: FileSchema.optional(),
  sticker: z.object({ emoji: z.string().optional() }).optional(),
  location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
});
type Message = z.output<typeof MessageSchema>;

const CallbackSchema = z.object({
  id: z.string().min(1),
  from: UserSchema,
  data: z.string().optional(),
  message: z
    .object({
      message_id: int,
      chat: ChatSchema,
      message_thread_id: int.optional(),
      is_topic_message: z.boolean().optional(),
    })
    .optional(),
});
type Callback = z.output<typeof CallbackSchema>;

// ---- Normalisation

type Base = Pick<InboundEvent, "eventId" | "receivedAt" | "raw">;

function eventOf(update: z.output<typeof UpdateSchema>, base: Base, ctx: TelegramParseContext) {
  const { message, callback_query } = update;
  if (message !== undefined) return fromMessage(must(MessageSchema, message, "message"), base, ctx);
  if (callback_query === undefined) return undefined;
  return fromCallback(must(CallbackSchema, callback_query, "callback_query"), base);
}

function fromMessage(message: Message, base: Base, ctx: TelegramParseContext): InboundEvent | undefined {
  if (ctx.botId !== undefined && message.from?.id === ctx.botId) return undefined;
  const source = message.text ?? message.caption;
  const entities = (message.text === undefined ? message.caption_entities : message.entities) ?? [];
  const attachments = attachmentsOf(message);
  const text = source ?? stubText(message);
  if (text === undefined && attachments.length === 0) return undefined;

  const topicId = topicOf(message);
  const address = source === undefined ? { addressed: false, ranges: [] } : addressing(source, entities, ctx);
  const addressedToBot =
    message.chat.type === "private" ||
    address.addressed ||
    (ctx.botId !== undefined && message.reply_to_message?.from?.id === ctx.botId);
  return {
    platform: "telegram",
    ...base,
    conversation: conversationOf(message.chat, topicId),
    sender: senderOf(message.from),
    occurredAt: message.date * 1000,
    addressedToBot,
    content: { type: "message", text: removeRanges(text ?? "", address.ranges), attachments },
    reply: replyContext(message.chat.id, topicId, { messageId: message.message_id }),
  };
}

function fromCallback(callback: Callback, base: Base): InboundEvent | undefined {
  const message = callback.message;
  if (message === undefined) return undefined;
  const topicId = topicOf(message);
  return {
    platform: "telegram",
    ...base,
    conversation: conversationOf(message.chat, topicId),
    sender: senderOf(callback.from),
    occurredAt: base.receivedAt,
    addressedToBot: true,
    content: { type: "action", actionId: "callback", value: callback.data ?? "" },
    reply: replyContext(message.chat.id, topicId, {
      messageId: message.message_id,
      callbackQueryId: callback.id,
    }),
  };
}

/** In ordinary supergroups `message_thread_id` names a reply chain, which must not split a conversation. */
const topicOf = (message: {
  message_thread_id?: number | undefined;
  is_topic_message?: boolean | undefined;
}) => (message.is_topic_message === true ? message.message_thread_id : undefined);

function conversationOf(chat: Chat, topicId: number | undefined): ConversationRef {
  return {
    key: topicId === undefined ? `telegram:${chat.id}` : `telegram:${chat.id}:${topicId}`,
    kind: chat.type === "private" ? "dm" : "group",
    ...(chat.title === undefined ? {} : { title: chat.title }),
  };
}

function senderOf(user: User | undefined): Sender {
  if (user === undefined) return { platformUserId: "" };
  const name = [user.first_name, user.last_name]
    .filter((part) => part !== undefined && part !== "")
    .join(" ");
  const displayName = name === "" ? user.username : name;
  return {
    platformUserId: String(user.id),
    ...(displayName === undefined || displayName === "" ? {} : { displayName }),
    ...(user.language_code === undefined ? {} : { locale: user.language_code }),
  };
}

function replyContext(
  chatId: number,
  topicId: number | undefined,
  ids: { messageId: number; callbackQueryId?: string },
): ReplyContext {
  return {
    platform: "telegram",
    chatId,
    ...(topicId === undefined ? {} : { messageThreadId: topicId }),
    ...ids,
  };
}

function attachmentsOf(message: Message): Attachment[] {
  const file = (kind: Attachment["kind"], f: File): Attachment =>
    attachment(kind, f.file_id, { name: f.file_name, mimeType: f.mime_type, sizeBytes: f.file_size });
  const largest = largestPhoto(message.photo ?? []);
  const found: (Attachment | undefined)[] = [
    largest && file("image", largest),
    message.document && file("file", message.document),
    message.video && file("video", message.video),
    message.video_note && file("video", message.video_note),
    message.audio && file("audio", message.audio),
    message.voice && file("audio", message.voice),
  ];
  return found.filter((a) => a !== undefined);
}

type PhotoSize = z.output<typeof PhotoSizeSchema>;

/** Telegram lists sizes smallest first; going by area keeps us right if it ever does not. */
function largestPhoto(sizes: readonly PhotoSize[]): PhotoSize | undefined {
  const area = (size: PhotoSize) => (size.width ?? 0) * (size.height ?? 0);
  let largest: PhotoSize | undefined;
  for (const size of sizes) if (largest === undefined || area(size) >= area(largest)) largest = size;
  return largest;
}

/** A short stand-in for content without text or file: stickers and locations. */
function stubText(message: Message): string | undefined {
  if (message.sticker !== undefined) {
    return message.sticker.emoji === undefined ? "[sticker]" : `[sticker ${message.sticker.emoji}]`;
  }
  if (message.location !== undefined) {
    return `[location: ${message.location.latitude}, ${message.location.longitude}]`;
  }
  return undefined;
}

/** Whether the entities address the bot, and the text ranges (UTF-16) to strip: our mentions, `@us` of commands. */
function addressing(text: string, entities: readonly Entity[], ctx: TelegramParseContext) {
  const username = ctx.botUsername?.replace(/^@/, "").toLowerCase();
  const ranges: Range[] = [];
  let addressed = false;
  for (const { type, offset, length, user } of entities) {
    const end = offset + length;
    const slice = text.slice(offset, end);
    if (type === "mention" && username !== undefined && slice.toLowerCase() === `@${username}`) {
      addressed = true;
      ranges.push([offset, end]);
    } else if (type === "text_mention" && ctx.botId !== undefined && user?.id === ctx.botId) {
      addressed = true;
      ranges.push([offset, end]);
    } else if (type === "bot_command") {
      const at = slice.indexOf("@");
      const target = at < 0 ? undefined : slice.slice(at + 1).toLowerCase();
      const ours = target === undefined ? offset === 0 : username === undefined || target === username;
      if (ours) addressed = true;
      if (ours && target !== undefined) ranges.push([offset + at, end]);
    }
  }
  return { addressed, ranges };
}
