import type { HostedRef } from "./fakes/platform-simulator/files.ts";
import {
  createDiscordTestKeys,
  DISCORD_TEST_APPLICATION_ID,
  type DiscordTestKeys,
  discordSlashCommand,
  signedDiscordRequest,
} from "./webhooks/discord.ts";
import {
  LINE_TEST_BOT_USER_ID,
  LINE_TEST_SECRET,
  lineMessageEvent,
  lineTextEvent,
  lineUserSource,
  lineWebhookBody,
  signedLineRequest,
} from "./webhooks/line.ts";
import {
  SLACK_TEST_BOT_USER_ID,
  SLACK_TEST_CHANNEL_ID,
  SLACK_TEST_SIGNING_SECRET,
  SLACK_TEST_TEAM_ID,
  signedSlackEvent,
  slackAppMention,
  slackFile,
} from "./webhooks/slack.ts";
import {
  privateChat,
  TELEGRAM_TEST_BOT_ID,
  TELEGRAM_TEST_BOT_TOKEN,
  TELEGRAM_TEST_BOT_USERNAME,
  TELEGRAM_TEST_SECRET,
  telegramRequest,
  telegramTextUpdate,
  telegramUser,
} from "./webhooks/telegram.ts";

/**
 * Signed webhook traffic for all four platforms, as the route tests, the fuzz test, the crash test and the
 * ingest benchmark send it: one function per platform that makes a fresh, validly signed message request
 * and says which inbox event id it must become.
 */
export const WEBHOOK_PLATFORMS = ["line", "slack", "discord", "telegram"] as const;
export type WebhookPlatformName = (typeof WEBHOOK_PLATFORMS)[number];

/** The header that authenticates each platform's webhook request. */
export const AUTH_HEADER = {
  line: "x-line-signature",
  slack: "x-slack-signature",
  discord: "x-signature-ed25519",
  telegram: "x-telegram-bot-api-secret-token",
} as const satisfies Record<WebhookPlatformName, string>;

export interface TrafficRequest {
  readonly platform: WebhookPlatformName;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The inbox `event_id` the request's event is stored under. */
  readonly eventId: string;
  readonly conversationKey: string;
}

export interface TestPlatforms {
  readonly discordKeys: DiscordTestKeys;
  /** The environment that enables all four webhooks with the test secrets. */
  readonly env: Record<string, string>;
  /** A fresh signed message from `user` (a small integer: each user is a DM conversation). */
  message(platform: WebhookPlatformName, text: string, user?: number): TrafficRequest;
}

export function testPlatforms(): TestPlatforms {
  const discordKeys = createDiscordTestKeys();
  const env = {
    LINE_CHANNEL_SECRET: LINE_TEST_SECRET,
    LINE_BOT_USER_ID: LINE_TEST_BOT_USER_ID,
    SLACK_SIGNING_SECRET: SLACK_TEST_SIGNING_SECRET,
    DISCORD_PUBLIC_KEY: discordKeys.publicKeyHex,
    DISCORD_APPLICATION_ID: DISCORD_TEST_APPLICATION_ID,
    TELEGRAM_WEBHOOK_SECRET: TELEGRAM_TEST_SECRET,
    TELEGRAM_BOT_TOKEN: TELEGRAM_TEST_BOT_TOKEN,
    TELEGRAM_BOT_USERNAME: TELEGRAM_TEST_BOT_USERNAME,
  };
  return {
    discordKeys,
    env,
    message(platform, text, user = 1) {
      switch (platform) {
        case "line": {
          const userId = `U${user.toString(16).padStart(32, "0")}`;
          const event = lineTextEvent({ text, source: lineUserSource(userId) });
          const signed = signedLineRequest(lineWebhookBody([event]));
          return {
            platform,
            path: "/webhooks/line",
            ...signed,
            eventId: String(event.webhookEventId),
            conversationKey: `line:${LINE_TEST_BOT_USER_ID}:user:${userId}`,
          };
        }
        case "slack": {
          const envelope = slackAppMention({
            text: `<@${SLACK_TEST_BOT_USER_ID}> ${text}`,
            user: `U${user}`,
          });
          const ts = envelope.event.ts;
          const signed = signedSlackEvent(envelope);
          return {
            platform,
            path: "/webhooks/slack",
            ...signed,
            eventId: `msg:${SLACK_TEST_CHANNEL_ID}:${ts}`,
            conversationKey: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}:${ts}`,
          };
        }
        case "discord": {
          const channelId = String(1_200_000_000_000_000_000n + BigInt(user));
          const interaction = discordSlashCommand({ prompt: text, channelId, guildId: null });
          const signed = signedDiscordRequest(discordKeys, interaction);
          return {
            platform,
            path: "/webhooks/discord",
            ...signed,
            eventId: String(interaction.id),
            conversationKey: `discord:${channelId}`,
          };
        }
        case "telegram": {
          const from = telegramUser({ id: 10_000 + user });
          const update = telegramTextUpdate({ text, from, chat: privateChat(from) });
          return {
            platform,
            path: "/webhooks/telegram",
            ...telegramRequest(update),
            eventId: `${TELEGRAM_TEST_BOT_ID}:${update.update_id}`,
            conversationKey: `telegram:${from.id}`,
          };
        }
      }
    },
  };
}

/** The platforms whose webhooks can carry a file a person sends (Discord's come over the Gateway). */
export const FILE_WEBHOOK_PLATFORMS = ["line", "slack", "telegram"] as const;
export type FileWebhookPlatform = (typeof FILE_WEBHOOK_PLATFORMS)[number];

/**
 * A signed message from `user` carrying `file` (hosted by the platform simulator, `hostFile`), with
 * `caption` as its text where the platform has one: a LINE image or file message, a Slack `app_mention`
 * with `files[]`, a Telegram document (or photo, for `image/*`).
 */
export function fileMessage(
  platform: FileWebhookPlatform,
  file: HostedRef,
  user = 1,
  caption = "",
): TrafficRequest {
  switch (platform) {
    case "line": {
      const userId = `U${user.toString(16).padStart(32, "0")}`;
      const message = file.contentType.startsWith("image/")
        ? { id: file.id, type: "image", quoteToken: `q-${file.id}`, contentProvider: { type: "line" } }
        : { id: file.id, type: "file", fileName: file.name, fileSize: file.size };
      const event = lineMessageEvent(message, { source: lineUserSource(userId) });
      return {
        platform,
        path: "/webhooks/line",
        ...signedLineRequest(lineWebhookBody([event])),
        eventId: String(event.webhookEventId),
        conversationKey: `line:${LINE_TEST_BOT_USER_ID}:user:${userId}`,
      };
    }
    case "slack": {
      const files = [
        slackFile({
          id: file.id,
          name: file.name,
          title: file.name,
          mimetype: file.contentType,
          size: file.size,
          url_private: file.url,
          url_private_download: file.url,
        }),
      ];
      const envelope = slackAppMention({
        text: `<@${SLACK_TEST_BOT_USER_ID}> ${caption}`.trim(),
        user: `U${user}`,
        ...({ files } as object),
      });
      const ts = envelope.event.ts;
      return {
        platform,
        path: "/webhooks/slack",
        ...signedSlackEvent(envelope),
        eventId: `msg:${SLACK_TEST_CHANNEL_ID}:${ts}`,
        conversationKey: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}:${ts}`,
      };
    }
    case "telegram": {
      const from = telegramUser({ id: 10_000 + user });
      const photo = file.contentType.startsWith("image/") && file.contentType !== "image/svg+xml";
      const extra = photo
        ? {
            photo: [
              { file_id: `${file.id}-small`, file_unique_id: "s", width: 90, height: 90, file_size: 10 },
              { file_id: file.id, file_unique_id: "l", width: 1280, height: 960, file_size: file.size },
            ],
          }
        : {
            document: {
              file_id: file.id,
              file_unique_id: "d",
              file_name: file.name,
              mime_type: file.contentType,
              file_size: file.size,
            },
          };
      const update = telegramTextUpdate({
        from,
        chat: privateChat(from),
        extra: { ...extra, ...(caption && { caption }) },
      });
      return {
        platform,
        path: "/webhooks/telegram",
        ...telegramRequest(update),
        eventId: `${TELEGRAM_TEST_BOT_ID}:${update.update_id}`,
        conversationKey: `telegram:${from.id}`,
      };
    }
  }
}
