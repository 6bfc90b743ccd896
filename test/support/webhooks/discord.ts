import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { jsonBody, type SignedRequest } from "./common.ts";

export type { SignedRequest } from "./common.ts";

/**
 * Builders for Discord requests: interactions shaped like the HTTP Interactions endpoint receives them,
 * signed with a test Ed25519 key pair like Discord signs them (over the timestamp header followed by the
 * body), and Gateway MESSAGE_CREATE payloads. Every builder takes overrides; snowflakes are unique per call
 * (and, with high probability, across processes).
 */

export const DISCORD_TEST_APPLICATION_ID = "1100000000000000001";
export const DISCORD_TEST_GUILD_ID = "1100000000000000002";
export const DISCORD_TEST_CHANNEL_ID = "1100000000000000003";
export const DISCORD_TEST_DM_CHANNEL_ID = "1100000000000000004";
export const DISCORD_TEST_USER_ID = "1100000000000000005";

export interface DiscordTestKeys {
  /** What the Developer Portal shows as the Public Key: 64 hex digits. */
  readonly publicKeyHex: string;
  /** Hex Ed25519 signature of UTF-8(timestamp) ++ UTF-8(body), as `X-Signature-Ed25519` carries it. */
  sign(timestamp: string, body: string): string;
}

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** A fresh key pair, or the one derived from a 32-byte hex seed (e.g. an RFC 8032 secret key). */
export function createDiscordTestKeys(seedHex?: string): DiscordTestKeys {
  const privateKey: KeyObject =
    seedHex === undefined
      ? generateKeyPairSync("ed25519").privateKey
      : createPrivateKey({
          key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(seedHex, "hex")]),
          format: "der",
          type: "pkcs8",
        });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const publicKeyHex = Buffer.from(jwk.x ?? "", "base64url").toString("hex");
  return {
    publicKeyHex,
    sign: (timestamp, body) => sign(null, Buffer.from(timestamp + body, "utf8"), privateKey).toString("hex"),
  };
}

/**
 * A signed interaction request. `payload` is serialised with `JSON.stringify` unless it is already a
 * string (raw bodies for fuzzing); `timestamp` (unix seconds as a string) defaults to now.
 */
export function signedDiscordRequest(
  keys: DiscordTestKeys,
  payload: unknown,
  timestamp?: string,
): SignedRequest {
  const body = jsonBody(payload);
  const stamp = timestamp ?? String(Math.floor(Date.now() / 1000));
  return {
    headers: {
      "content-type": "application/json",
      "x-signature-ed25519": keys.sign(stamp, body),
      "x-signature-timestamp": stamp,
    },
    body,
  };
}

// ---- Interactions

export function discordPing(): Record<string, unknown> {
  return {
    id: snowflake(),
    application_id: DISCORD_TEST_APPLICATION_ID,
    type: 1,
    token: interactionToken(),
    version: 1,
  };
}

export interface DiscordPlaceOptions {
  /** `null` makes it a DM with the bot (no guild; `user` instead of `member`). */
  readonly guildId?: string | null;
  readonly channelId?: string;
  readonly userId?: string;
  readonly locale?: string;
}

export interface DiscordSlashCommandOptions extends DiscordPlaceOptions {
  readonly name?: string;
  /** The `prompt` string option; `null` sends none. */
  readonly prompt?: string | null;
  /** Replaces the options entirely. */
  readonly options?: readonly object[];
}

/** A CHAT_INPUT command (`/claude prompt:…`) in a guild channel, or in the bot's DM with `guildId: null`. */
export function discordSlashCommand(options: DiscordSlashCommandOptions = {}): Record<string, unknown> {
  const prompt = options.prompt === undefined ? "summarise the last deploy" : options.prompt;
  const commandOptions =
    options.options ?? (prompt === null ? [] : [{ name: "prompt", type: 3, value: prompt }]);
  return {
    ...interactionBase(2, options),
    data: { id: "1100000000000000100", name: options.name ?? "claude", type: 1, options: commandOptions },
  };
}

export interface DiscordComponentOptions extends DiscordPlaceOptions {
  readonly customId?: string;
  /** Select menus send `values`; buttons do not. */
  readonly values?: readonly string[];
  readonly messageId?: string;
}

/** A MESSAGE_COMPONENT click (a button by default) on a bot message. */
export function discordComponent(options: DiscordComponentOptions = {}): Record<string, unknown> {
  const values = options.values === undefined ? {} : { values: options.values };
  return {
    ...interactionBase(3, options),
    message: {
      id: options.messageId ?? snowflake(),
      channel_id: options.channelId ?? DISCORD_TEST_CHANNEL_ID,
      author: { id: DISCORD_TEST_APPLICATION_ID, username: "CloudClaude", bot: true },
      content: "Allow Bash?",
      type: 0,
    },
    data: {
      custom_id: options.customId ?? `approve:${snowflake()}`,
      component_type: options.values === undefined ? 2 : 3,
      ...values,
    },
  };
}

function interactionBase(type: number, options: DiscordPlaceOptions): Record<string, unknown> {
  const user = {
    id: options.userId ?? DISCORD_TEST_USER_ID,
    username: "mei",
    global_name: "Mei",
    discriminator: "0",
    avatar: null,
  };
  const guildId = options.guildId === undefined ? DISCORD_TEST_GUILD_ID : options.guildId;
  const inGuild = guildId !== null;
  const channelId = options.channelId ?? (inGuild ? DISCORD_TEST_CHANNEL_ID : DISCORD_TEST_DM_CHANNEL_ID);
  const place = inGuild
    ? {
        guild_id: guildId,
        guild: { id: guildId, locale: "en-US", features: [] },
        member: { user, roles: [], nick: null, permissions: "2248473465835073" },
        channel: { id: channelId, type: 0, guild_id: guildId, name: "general" },
        context: 0,
        authorizing_integration_owners: { "0": guildId },
      }
    : {
        user,
        channel: { id: channelId, type: 1, recipients: [user] },
        context: 1,
        authorizing_integration_owners: { "0": DISCORD_TEST_USER_ID },
      };
  return {
    id: snowflake(),
    application_id: DISCORD_TEST_APPLICATION_ID,
    type,
    token: interactionToken(),
    version: 1,
    channel_id: channelId,
    locale: options.locale ?? "en-US",
    app_permissions: "2248473465835073",
    entitlements: [],
    attachment_size_limit: 10_485_760,
    ...place,
  };
}

// ---- Gateway

export interface DiscordGatewayMessageOptions {
  readonly content?: string;
  /** `null` makes it a DM. */
  readonly guildId?: string | null;
  readonly channelId?: string;
  readonly author?: { id: string; username: string; global_name?: string | null; bot?: boolean };
  /** User ids in `mentions[]`. */
  readonly mentions?: readonly string[];
  /** Makes the message a reply (type 19) to a message by this user. */
  readonly replyToAuthorId?: string;
  readonly attachments?: readonly object[];
  readonly type?: number;
}

/** The `d` of a Gateway MESSAGE_CREATE dispatch. */
export function discordGatewayMessage(options: DiscordGatewayMessageOptions = {}): Record<string, unknown> {
  const guildId = options.guildId === undefined ? DISCORD_TEST_GUILD_ID : options.guildId;
  const channelId =
    options.channelId ?? (guildId === null ? DISCORD_TEST_DM_CHANNEL_ID : DISCORD_TEST_CHANNEL_ID);
  const author = options.author ?? { id: DISCORD_TEST_USER_ID, username: "mei", global_name: "Mei" };
  const reply =
    options.replyToAuthorId === undefined
      ? {}
      : {
          message_reference: { type: 0, channel_id: channelId, message_id: snowflake() },
          referenced_message: {
            id: snowflake(),
            channel_id: channelId,
            author: { id: options.replyToAuthorId, username: "someone" },
            content: "earlier message",
            type: 0,
          },
        };
  return {
    id: snowflake(),
    type: options.type ?? (options.replyToAuthorId === undefined ? 0 : 19),
    channel_id: channelId,
    ...(guildId === null ? {} : { guild_id: guildId, member: { roles: [], nick: null } }),
    author: { discriminator: "0", avatar: null, ...author },
    content: options.content ?? "hello",
    timestamp: new Date().toISOString().replace("Z", "000+00:00"),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: (options.mentions ?? []).map((id) => ({ id, username: `user${id.slice(-4)}` })),
    mention_roles: [],
    attachments: options.attachments ?? [],
    embeds: [],
    pinned: false,
    flags: 0,
    ...reply,
  };
}

/** An `attachments[]` entry as the Gateway sends it. */
export function discordAttachment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const id = snowflake();
  return {
    id,
    filename: "diagram.png",
    size: 2048,
    url: `https://cdn.discordapp.com/attachments/${DISCORD_TEST_CHANNEL_ID}/${id}/diagram.png?ex=1&is=2&hm=3`,
    proxy_url: `https://media.discordapp.net/attachments/${DISCORD_TEST_CHANNEL_ID}/${id}/diagram.png`,
    content_type: "image/png",
    width: 64,
    height: 64,
    ...overrides,
  };
}

// ---- Ids

const DISCORD_EPOCH_MS = 1_420_070_400_000;
const worker = BigInt(randomBytes(2).readUInt16BE(0) & 0x3ff);
let lastMs = 0;
let sequence = 0;

/** A real-looking snowflake (time, worker, sequence), unique per call within the process. */
export function snowflake(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMs += 1;
    sequence = 0;
  }
  return ((BigInt(lastMs - DISCORD_EPOCH_MS) << 22n) | (worker << 12n) | BigInt(sequence)).toString();
}

function interactionToken(): string {
  return `aW50ZXJhY3Rpb246${randomBytes(48).toString("base64url")}`;
}
