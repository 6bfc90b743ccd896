import type { SimulatorBaseUrls } from "../../../test/support/fakes/platform-simulator.ts";
import type { PlatformsConfig } from "../../config/index.ts";
import type { OutboxQueue } from "../port.ts";

/** A platforms configuration whose every client points at the simulator, with test tokens. */
export function simulatedPlatforms(urls: SimulatorBaseUrls): PlatformsConfig {
  return {
    line: {
      channelSecret: undefined,
      botUserId: undefined,
      accessToken: "line-test-token",
      apiBaseUrl: urls.LINE_API_BASE_URL,
    },
    slack: {
      signingSecret: undefined,
      botToken: "xoxb-test",
      appToken: undefined,
      apiUrl: urls.SLACK_API_URL,
    },
    discord: {
      publicKey: undefined,
      applicationId: "1300000000000000001",
      botToken: "discord-test-token",
      gateway: false,
      apiUrl: urls.DISCORD_API_URL,
    },
    telegram: {
      webhookSecret: undefined,
      botToken: "123456789:test-token",
      mode: "webhook",
      botUsername: undefined,
      apiRoot: urls.TELEGRAM_API_ROOT,
    },
  };
}

/** Resolves once the message is no longer pending; rejects after `timeoutMs`. */
export async function settled(outbox: OutboxQueue, key: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await outbox.get(key);
    if (record && record.status !== "pending") return record.status;
    if (Date.now() > deadline) throw new Error(`outbox message ${key} still pending after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
