import type { PlatformsConfig } from "../../config/index.ts";
import type { Inbox } from "../../inbox/port.ts";
import type { Logger } from "../../shared/logger.ts";
import type { Store } from "../../store/port.ts";
import { DiscordGatewayTransport } from "./discord-gateway.ts";
import { SlackSocketModeTransport } from "./slack-socket-mode.ts";
import { TelegramPollingTransport } from "./telegram-polling.ts";
import type { InboundTransport } from "./types.ts";

export { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.ts";
export { type DiscordGatewayOptions, DiscordGatewayTransport, discordSessionKey } from "./discord-gateway.ts";
export { type SlackSocketModeOptions, SlackSocketModeTransport } from "./slack-socket-mode.ts";
export { type TelegramPollingOptions, TelegramPollingTransport } from "./telegram-polling.ts";
export type { InboundTransport } from "./types.ts";

export interface TransportDeps {
  readonly config: PlatformsConfig;
  readonly inbox: Inbox;
  readonly store: Store;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The long-lived inbound transports this configuration enables: Slack Socket Mode when an app token is set,
 * the Discord Gateway when a bot token is set and the Gateway is on, Telegram long polling in polling mode.
 * Nothing is started; the caller starts and stops them.
 */
export function createTransports(deps: TransportDeps): InboundTransport[] {
  const { config, inbox, logger } = deps;
  const common = { inbox, logger, ...(deps.now === undefined ? {} : { now: deps.now }) };
  const transports: InboundTransport[] = [];
  if (config.slack.appToken) {
    transports.push(
      new SlackSocketModeTransport({
        ...common,
        appToken: config.slack.appToken,
        apiUrl: config.slack.apiUrl,
      }),
    );
  }
  if (config.discord.botToken && config.discord.gateway) {
    transports.push(
      new DiscordGatewayTransport({
        ...common,
        botToken: config.discord.botToken,
        apiUrl: config.discord.apiUrl,
        applicationId: config.discord.applicationId,
        state: deps.store.transportState,
      }),
    );
  }
  if (config.telegram.mode === "polling") {
    if (config.telegram.botToken) {
      transports.push(
        new TelegramPollingTransport({
          ...common,
          token: config.telegram.botToken,
          apiRoot: config.telegram.apiRoot,
          botUsername: config.telegram.botUsername,
        }),
      );
    } else {
      logger.warn("TELEGRAM_MODE=polling needs TELEGRAM_BOT_TOKEN; Telegram long polling is off");
    }
  }
  return transports;
}
