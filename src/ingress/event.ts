import type { Platform } from "../store/port.ts";

/**
 * One thing a person did in a chat app, in the same shape whatever the platform. Ingress produces these;
 * the inbox stores them (as JSON) and hands them to the router in order per conversation.
 *
 * The type is plain data (JSON round-trips it, save the `raw` caveat below): the inbox persists it as is.
 */
export interface InboundEvent {
  readonly platform: Platform;
  /**
   * The dedupe key, unique within the platform and stable across the platform's retries and redeliveries:
   * LINE `webhookEventId`; Slack `msg:<channel>:<ts>` for messages (so `message` and `app_mention` of one
   * message collapse), `action:<trigger_id>:<action_id>` for clicks, `command:<trigger_id>` for slash
   * commands; Discord interaction id or message id; Telegram `<bot id>:<update_id>` (`bot:` when unknown).
   */
  readonly eventId: string;
  readonly conversation: ConversationRef;
  readonly sender: Sender;
  /**
   * When the platform says it happened (ms since epoch). Equal to `receivedAt` when the platform gives no
   * time for the event (slash commands, Telegram callbacks, Slack clicks without `action_ts`).
   */
  readonly occurredAt: number;
  /** When our ingress received it (ms since epoch). */
  readonly receivedAt: number;
  /**
   * Whether this asks the bot for something: any DM, a mention of the bot, a reply to the bot, a slash
   * command, a button press. Group chatter that does not address the bot is still stored (context for a
   * bound project), and the router decides whether it starts a turn.
   */
  readonly addressedToBot: boolean;
  readonly content: EventContent;
  /** How to answer in place (reply token, thread, interaction token, message id). */
  readonly reply: ReplyContext;
  /**
   * The platform's own payload for this event, for debugging and for fields we do not model yet, minus
   * credentials (Slack's verification token). Always JSON-serialisable (it came from `JSON.parse` or a
   * JSON transport: no cycles, no bigint, no functions) and nested at most 64 levels deep: the parsers refuse
   * deeper payloads, because the inbox stores the event as JSON. (A number too large for a double, such as
   * `1e999`, parses as `Infinity` and is stored as `null`.)
   */
  readonly raw: unknown;
}

export interface ConversationRef {
  /**
   * Stable key from platform ids: `line:<destination>:<user|group|room>:<id>`,
   * `slack:<team>:<channel>[:<thread ts>]`, `discord:<channel id>`, `telegram:<chat id>[:<topic id>]`.
   */
  readonly key: string;
  /**
   * "dm" only for a one-to-one chat between a person and the bot (LINE user source, Slack `im`, Discord DM
   * with the bot, Telegram private chat). Everything else is "group": channels, threads, group chats and
   * rooms, and Discord interactions with context PRIVATE_CHANNEL (group DMs and DMs between other people).
   */
  readonly kind: "dm" | "group";
  readonly title?: string;
}

export interface Sender {
  /**
   * The platform's id for the person. Empty means unknown (LINE group members on clients that do not share
   * their id, a Telegram message without `from`): an empty id must never be linked to an identity, nor
   * used to tell two senders apart.
   */
  readonly platformUserId: string;
  readonly displayName?: string;
  /** A locale hint for replies (Telegram `language_code`, Discord `locale`), when the platform gives one. */
  readonly locale?: string;
}

export type EventContent =
  /** A chat message. `text` has the bot mention removed; may be empty when only attachments came. */
  | { readonly type: "message"; readonly text: string; readonly attachments: readonly Attachment[] }
  /**
   * A platform slash command such as Slack `/claude …` or Discord `/claude prompt:…`. `command` is the bare
   * command name in lower case, the same on every platform: `claude` for both (no leading slash).
   */
  | { readonly type: "command"; readonly command: string; readonly text: string }
  /** A button press; `value` is the data we put on the button (approval ids and the like). */
  | { readonly type: "action"; readonly actionId: string; readonly value: string };

/** A file a person sent, to be fetched later through the platform's API (`ref` is its id or URL). */
export interface Attachment {
  readonly kind: "image" | "video" | "audio" | "file" | "other";
  readonly ref: string;
  readonly name?: string;
  readonly mimeType?: string;
  readonly sizeBytes?: number;
}

export type ReplyContext =
  | {
      readonly platform: "line";
      /** Single use; only worth using while fresh (see `receivedAt`). */
      readonly replyToken?: string;
      /** Where a push goes when the reply token is stale: the user, group or room id. */
      readonly to: string;
      readonly quoteToken?: string;
    }
  | {
      readonly platform: "slack";
      readonly teamId: string;
      readonly channel: string;
      /**
       * The thread to answer in: the message's `thread_ts` or, for a top-level channel message, the message's
       * own `ts` (it starts a thread). Absent for a top-level DM message, answered at top level.
       */
      readonly threadTs?: string;
      readonly messageTs?: string;
      /** Slash commands and interactivity carry a response URL valid for 30 minutes. */
      readonly responseUrl?: string;
      readonly triggerId?: string;
    }
  | {
      readonly platform: "discord";
      readonly channelId: string;
      readonly guildId?: string;
      readonly messageId?: string;
      readonly interactionId?: string;
      /** Valid for 15 minutes after the interaction. */
      readonly interactionToken?: string;
      readonly applicationId?: string;
    }
  | {
      readonly platform: "telegram";
      readonly chatId: number;
      readonly messageThreadId?: number;
      readonly messageId?: number;
      readonly callbackQueryId?: string;
    }
  | { readonly platform: "webchat"; readonly sessionId: string };
