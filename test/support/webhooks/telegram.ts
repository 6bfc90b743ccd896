import { randomBytes } from "node:crypto";
import { fuzzBodies } from "../fuzz.ts";
import { jsonBody, type SignedRequest } from "./common.ts";

export { type SignedRequest, webhookRequest } from "./common.ts";

/**
 * Builders for Telegram Bot API updates (shapes from `@grammyjs/types`) and webhook requests carrying them.
 * Every builder takes overrides; update ids, message ids and file ids are unique per call (and across
 * processes) so dedupe never collapses two built updates.
 */

export const TELEGRAM_TEST_SECRET = "test_secret_token-0123456789";
export const TELEGRAM_TEST_BOT_ID = 7_000_000_001;
export const TELEGRAM_TEST_BOT_TOKEN = `${TELEGRAM_TEST_BOT_ID}:AAFakeTokenForTests_0123456789abcdef`;
export const TELEGRAM_TEST_BOT_USERNAME = "cloudclaude_test_bot";

/**
 * A webhook request. `update` is serialised with `JSON.stringify` unless it is already a string (raw bodies
 * for fuzzing). `secret: null` leaves the secret header out.
 */
export function telegramRequest(update: unknown, options: { secret?: string | null } = {}): SignedRequest {
  const body = jsonBody(update);
  const secret = options.secret === undefined ? TELEGRAM_TEST_SECRET : options.secret;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers["x-telegram-bot-api-secret-token"] = secret;
  return { headers, body };
}

// ---- Ids

const base = 100_000 + (randomBytes(3).readUIntBE(0, 3) % 1_000_000) * 1_000;
let counter = 0;
const next = (): number => {
  counter += 1;
  return base + counter;
};

export const nextUpdateId = next;
export const nextMessageId = next;

// ---- Users and chats

export interface TelegramUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface TelegramChat {
  id: number;
  type: "private" | "group" | "supergroup" | "channel";
  title?: string;
  first_name?: string;
  is_forum?: true;
}

export function telegramUser(overrides: Partial<TelegramUser> = {}): TelegramUser {
  const id = overrides.id ?? 100_000_000 + next();
  return { id, is_bot: false, first_name: "Ada", last_name: "Lovelace", language_code: "en", ...overrides };
}

export const telegramBotUser = (): TelegramUser => ({
  id: TELEGRAM_TEST_BOT_ID,
  is_bot: true,
  first_name: "CloudClaude",
  username: TELEGRAM_TEST_BOT_USERNAME,
});

export const privateChat = (user: TelegramUser): TelegramChat => ({
  id: user.id,
  type: "private",
  first_name: user.first_name,
});

export const groupChat = (overrides: Partial<TelegramChat> = {}): TelegramChat => ({
  id: -1_000_000_000_000 - next(),
  type: "supergroup",
  title: "Team",
  ...overrides,
});

export const forumChat = (overrides: Partial<TelegramChat> = {}): TelegramChat =>
  groupChat({ title: "Forum", is_forum: true, ...overrides });

// ---- Entities

export interface TelegramEntity {
  type: string;
  offset: number;
  length: number;
  user?: TelegramUser;
}

/** The `mention` and `bot_command` entities Telegram's server would attach to `text` (UTF-16 offsets). */
export function telegramEntities(text: string): TelegramEntity[] {
  const entities: TelegramEntity[] = [];
  for (const match of text.matchAll(/(^|\s)(@\w{5,32}|\/\w{1,32}(?:@\w{5,32})?)/g)) {
    const word = match[2] ?? "";
    const offset = (match.index ?? 0) + (match[1] ?? "").length;
    entities.push({ type: word.startsWith("@") ? "mention" : "bot_command", offset, length: word.length });
  }
  return entities;
}

// ---- Updates

export interface TelegramMessageOverrides {
  update_id?: number;
  message_id?: number;
  date?: number;
  from?: TelegramUser;
  chat?: TelegramChat;
  text?: string;
  /** Defaults to `telegramEntities(text)`. */
  entities?: TelegramEntity[];
  message_thread_id?: number;
  is_topic_message?: boolean;
  reply_to_message?: Record<string, unknown>;
  /** Extra message fields (photo, caption, sticker, …) merged in as given. */
  extra?: Record<string, unknown>;
}

/** An update with a message; without `text` it is a text message "hello", in a private chat by default. */
export function telegramTextUpdate(o: TelegramMessageOverrides = {}): {
  update_id: number;
  message: Record<string, unknown>;
} {
  const from = o.from ?? telegramUser();
  const chat = o.chat ?? privateChat(from);
  const text = o.text ?? (o.extra === undefined ? "hello" : undefined);
  const message: Record<string, unknown> = {
    message_id: o.message_id ?? next(),
    from,
    chat,
    date: o.date ?? Math.floor(Date.now() / 1000),
  };
  if (o.message_thread_id !== undefined) message.message_thread_id = o.message_thread_id;
  if (o.is_topic_message !== undefined) message.is_topic_message = o.is_topic_message;
  if (o.reply_to_message !== undefined) message.reply_to_message = o.reply_to_message;
  if (text !== undefined) {
    message.text = text;
    const entities = o.entities ?? telegramEntities(text);
    if (entities.length > 0) message.entities = entities;
  }
  return { update_id: o.update_id ?? next(), message: { ...message, ...o.extra } };
}

/** A photo message: three sizes (the largest last, as Telegram sends them) and an optional caption. */
export function telegramPhotoUpdate(
  caption?: string,
  o: TelegramMessageOverrides = {},
): { update_id: number; message: Record<string, unknown> } {
  const id = randomBytes(6).toString("hex");
  const photo = [90, 320, 1280].map((width, i) => ({
    file_id: `AgAC-${id}-${i}`,
    file_unique_id: `AQAD-${id}-${i}`,
    width,
    height: Math.round((width * 3) / 4),
    file_size: width * 100,
  }));
  const captionFields = caption === undefined ? {} : { caption, caption_entities: telegramEntities(caption) };
  return telegramTextUpdate({ ...o, extra: { photo, ...captionFields, ...o.extra } });
}

/** A button press on a message the bot sent in `chat`. */
export function telegramCallbackUpdate(
  data: string | undefined,
  o: {
    update_id?: number;
    from?: TelegramUser;
    chat?: TelegramChat;
    message_id?: number;
    message_thread_id?: number;
    is_topic_message?: boolean;
  } = {},
): { update_id: number; callback_query: Record<string, unknown> } {
  const from = o.from ?? telegramUser();
  const chat = o.chat ?? privateChat(from);
  const message: Record<string, unknown> = {
    message_id: o.message_id ?? next(),
    from: telegramBotUser(),
    chat,
    date: Math.floor(Date.now() / 1000) - 60,
    text: "Allow this tool?",
  };
  if (o.message_thread_id !== undefined) message.message_thread_id = o.message_thread_id;
  if (o.is_topic_message !== undefined) message.is_topic_message = o.is_topic_message;
  const callback_query: Record<string, unknown> = {
    id: `4${String(next()).padStart(18, "0")}`,
    from,
    message,
    chat_instance: `-${randomBytes(8).readBigUInt64BE(0)}`,
  };
  if (data !== undefined) callback_query.data = data;
  return { update_id: o.update_id ?? next(), callback_query };
}

// ---- Fuzzing

/**
 * Bodies for robustness tests, reproducible from `seed` (see `fuzzBodies`): hostile classics (null, arrays,
 * nesting past any stack, `__proto__` keys, invalid UTF-8), then `count` valid updates in a group (text
 * with command and mention, photo in a topic, callback) with random structural mutations or a few damaged
 * bytes.
 */
export function telegramFuzzBodies(count: number, seed = 1): Uint8Array[] {
  const mention = `@${TELEGRAM_TEST_BOT_USERNAME}`;
  const valid = (random: () => number) => {
    const chat = groupChat();
    const roll = random();
    if (roll < 1 / 3) return telegramTextUpdate({ chat, text: `/new${mention} ${mention} go` });
    if (roll < 2 / 3)
      return telegramPhotoUpdate("look", { chat, message_thread_id: 3, is_topic_message: true });
    return telegramCallbackUpdate("approve:1", { chat });
  };
  return fuzzBodies(count, seed, valid);
}
