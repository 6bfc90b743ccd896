import type { PlatformsConfig } from "../../config/index.ts";
import type { Platform } from "../../store/port.ts";
import type { PlatformSender } from "../port.ts";
import type { WebchatHub } from "../webchat-hub.ts";
import { DiscordSender } from "./discord.ts";
import { LineSender } from "./line.ts";
import type { SenderOptions } from "./shared.ts";
import { SlackSender } from "./slack.ts";
import { TelegramSender } from "./telegram.ts";
import { WebchatSender } from "./webchat.ts";

export { DiscordSender, type DiscordSenderOptions } from "./discord.ts";
export { LineSender, type LineSenderOptions } from "./line.ts";
export type { SenderOptions } from "./shared.ts";
export { SlackSender, type SlackSenderOptions } from "./slack.ts";
export { TelegramSender, type TelegramSenderOptions } from "./telegram.ts";
export { WebchatSender } from "./webchat.ts";

/**
 * One sender per platform that can post: those whose bot token (LINE channel access token) is configured,
 * and webchat always. A platform without a sender keeps its replies failed with a clear error.
 */
export function createSenders(
  platforms: PlatformsConfig,
  hub: WebchatHub,
  options: SenderOptions = {},
): Map<Platform, PlatformSender> {
  const senders = new Map<Platform, PlatformSender>();
  const { line, slack, discord, telegram } = platforms;
  if (line.accessToken) {
    senders.set(
      "line",
      new LineSender({ ...options, accessToken: line.accessToken, apiBaseUrl: line.apiBaseUrl }),
    );
  }
  if (slack.botToken) {
    senders.set("slack", new SlackSender({ ...options, botToken: slack.botToken, apiUrl: slack.apiUrl }));
  }
  if (discord.botToken) {
    senders.set(
      "discord",
      new DiscordSender({
        ...options,
        botToken: discord.botToken,
        apiUrl: discord.apiUrl,
        applicationId: discord.applicationId,
      }),
    );
  }
  if (telegram.botToken) {
    senders.set(
      "telegram",
      new TelegramSender({ ...options, botToken: telegram.botToken, apiRoot: telegram.apiRoot }),
    );
  }
  senders.set("webchat", new WebchatSender(hub));
  return senders;
}
