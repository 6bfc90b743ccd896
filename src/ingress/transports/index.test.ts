import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  capturingLogger,
  type InboxHarness,
  openInboxHarness,
} from "../../../test/support/fakes/inbox-harness.ts";
import { loadConfig } from "../../config/index.ts";
import { createTransports } from "./index.ts";

const TOKENS = {
  SLACK_APP_TOKEN: "xapp-1-A0TEST-1-token",
  DISCORD_BOT_TOKEN: "bot-token-bot-token-bot-token",
  TELEGRAM_BOT_TOKEN: "123456:AAAAAAAAAAAAAAAAAAAAAAAA",
};

describe("createTransports", () => {
  let harness: InboxHarness;
  beforeEach(async () => {
    harness = await openInboxHarness();
  });
  afterEach(() => harness.close());

  /** The transports a configuration given as environment variables enables (nothing is started). */
  const names = (env: Record<string, string>): string[] =>
    createTransports({
      config: loadConfig({ env, cwd: harness.dir }).config.platforms,
      inbox: harness.inbox,
      store: harness.opened.store,
      logger: capturingLogger().logger,
    }).map((t) => t.name);

  it("creates nothing when no transport is configured", () => {
    expect(names({})).toEqual([]);
  });

  it("creates each transport its settings enable", () => {
    expect(names({ ...TOKENS, TELEGRAM_MODE: "polling" })).toEqual([
      "slack-socket-mode",
      "discord-gateway",
      "telegram-polling",
    ]);
  });

  it("leaves the Gateway off when DISCORD_GATEWAY is off, and Telegram polling off in webhook mode", () => {
    expect(
      names({ ...TOKENS, DISCORD_GATEWAY: "off", TELEGRAM_MODE: "webhook", SLACK_APP_TOKEN: "" }),
    ).toEqual([]);
  });
});
