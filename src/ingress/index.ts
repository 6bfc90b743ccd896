import type { PlatformsConfig } from "../config/index.ts";
import { createDiscordWebhook } from "./platforms/discord.ts";
import { createLineWebhook } from "./platforms/line.ts";
import { createSlackWebhook } from "./platforms/slack.ts";
import { botIdFromToken, createTelegramWebhook } from "./platforms/telegram.ts";
import type { WebhookPlatform } from "./platforms/types.ts";

export type { InboundEvent } from "./event.ts";
export { MAX_WEBHOOK_BODY_BYTES, mountWebhookRoutes } from "./routes.ts";

/** The webhook endpoints this configuration enables: each platform is on when its verification secret is set. */
export function createWebhookPlatforms(config: PlatformsConfig): WebhookPlatform[] {
  const platforms: WebhookPlatform[] = [];
  const { line, slack, discord, telegram } = config;
  if (line.channelSecret) {
    platforms.push(createLineWebhook({ channelSecret: line.channelSecret, botUserId: line.botUserId }));
  }
  if (slack.signingSecret) platforms.push(createSlackWebhook({ signingSecret: slack.signingSecret }));
  if (discord.publicKey) {
    platforms.push(
      createDiscordWebhook({ publicKey: discord.publicKey, applicationId: discord.applicationId }),
    );
  }
  // Telegram delivers to a webhook or to getUpdates, never both; polling mode leaves the endpoint off.
  if (telegram.webhookSecret && telegram.mode === "webhook") {
    platforms.push(
      createTelegramWebhook({
        secretToken: telegram.webhookSecret,
        botId: telegram.botToken ? botIdFromToken(telegram.botToken) : undefined,
        botUsername: telegram.botUsername,
      }),
    );
  }
  return platforms;
}
