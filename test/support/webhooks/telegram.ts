import { randomBytes } from "node:crypto";
import type { WebhookRequest } from "../../../src/ingress/platforms/types.ts";

/**
 * Builders for Telegram Bot API updates (shapes from `@grammyjs/types`) and webhook requests carrying them.
 * Every builder takes overrides; update ids, message ids and file ids are unique per call (and across
 * processes) so dedupe never collapses two built updates.
 */

export const TELEGRAM_TEST_SECRET = "test_secret_token-0123456789";
export const TELEGRAM_TEST_BOT_ID = 7_000_000_001;
export const TELEGRAM_TEST_BOT_TOKEN = `${TELEGRAM_TEST_BOT_ID}:AAFakeTokenForTests_0123456789abcdef`;
export const TELEGRAM_TEST_BOT_USERNAME = "cloudclaude_test_bot";

export interface SignedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A webhook request. `update` is serialised with `JSON.stringify` unless it is already a string (raw bodies
 * for fuzzing). `secret: null` leaves the secret header out.
 */
export function telegramRequest(update: unknown, options: { secret?: string | null } = {}): SignedRequest {
  const body = typeof update === "string" ? update : JSON.stringify(update);
  const secret = options.secret === undefined ? TELEGRAM_TEST_SECRET : options.secret;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers["x-telegram-bot-api-secret-token"] = secret;
  return { headers, body };
}

/** The request as `WebhookPlatform.handle` receives it. */
export function webhookRequest(signed: SignedRequest, receivedAt: number = Date.now()): WebhookRequest {
  return { headers: new Headers(signed.headers), body: new TextEncoder().encode(signed.body), receivedAt };
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
 * Bodies for robustness tests, reproducible from `seed`: hostile classics first (null, arrays, nesting past
 * any stack, `__proto__` keys, invalid UTF-8), then `count` valid updates (text with command and mention,
 * photo in a topic, callback) with random structural mutations or a few damaged bytes.
 */
export function telegramFuzzBodies(count: number, seed = 1): Uint8Array[] {
  const random = seeded(seed);
  const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
  const valid = JSON.stringify(telegramTextUpdate({ chat: groupChat() }));
  const hostile = [
    "null",
    "[]",
    "{}",
    "1",
    deep(100_000),
    valid.replace('"message":{', `"message":{"extra":${deep(5_000)},`),
    valid.replace('"message":{', '"message":{"__proto__":{"polluted":true},'),
    '{"__proto__":{"polluted":true},"update_id":1}',
  ].map((text) => new TextEncoder().encode(text));
  const mention = `@${TELEGRAM_TEST_BOT_USERNAME}`;
  const mutated = Array.from({ length: count }, () => {
    const chat = groupChat();
    const roll = random();
    if (roll < 1 / 3) return telegramTextUpdate({ chat, text: `/new${mention} ${mention} go` });
    if (roll < 2 / 3)
      return telegramPhotoUpdate("look", { chat, message_thread_id: 3, is_topic_message: true });
    return telegramCallbackUpdate("approve:1", { chat });
  }).map((update) => mutatedJson(update, random));
  return [...hostile, new Uint8Array([0xc3, 0x28, 0x7b, 0x7d]), ...mutated];
}

const ODD_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  2 ** 60,
  "",
  "x".repeat(300),
  "\u0000",
  [],
  {},
  true,
  [[[]]],
  JSON.parse('{"__proto__":{"polluted":true}}'),
];

/** 1-4 structural mutations; then, one time in four, three random bytes overwritten. */
function mutatedJson(payload: unknown, random: () => number): Uint8Array {
  const json = JSON.parse(JSON.stringify(payload)) as unknown;
  for (let i = 0; i < 1 + Math.floor(random() * 4); i++) mutateOnce(json, random);
  const bytes = new TextEncoder().encode(JSON.stringify(json) ?? "");
  if (random() < 0.25) {
    for (let i = 0; i < 3; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
  }
  return bytes;
}

function mutateOnce(value: unknown, random: () => number): void {
  let node = value;
  while (typeof node === "object" && node !== null) {
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    const key = keys[Math.floor(random() * keys.length)];
    if (key === undefined) return;
    const child = record[key];
    if (typeof child === "object" && child !== null && random() < 0.75) {
      node = child;
      continue;
    }
    if (random() < 0.3) delete record[key];
    else record[key] = ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
    return;
  }
}

/** mulberry32: reproducible randomness, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
