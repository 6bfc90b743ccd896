import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import { DeliveryError } from "../errors.ts";
import { visibleTelegramText } from "../format/telegram-html.ts";
import { longText, outbound, sendAll, words } from "../testing/messages.ts";
import { TELEGRAM_TEXT_LIMIT, TelegramSender } from "./telegram.ts";

describe("TelegramSender against the simulator", () => {
  let sim: PlatformSimulator;
  let sender: TelegramSender;
  const reply = { platform: "telegram", chatId: -1001234, messageThreadId: 77, messageId: 501 } as const;

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    sender = new TelegramSender({ botToken: "123:abc", apiRoot: sim.baseUrls().TELEGRAM_API_ROOT });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it("sends a long reply in the topic, the first chunk replying, as Telegram HTML", async () => {
    const text = `**Summary**\n\n${longText(10, 1_000)}`;
    const chunks = await sendAll(sender, outbound(reply, text));
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const posted = sim.messagesTo(reply.chatId);
    expect(posted).toHaveLength(chunks.length);
    expect(posted.map((m) => m.replyTo)).toEqual(["501", ...chunks.slice(1).map(() => undefined)]);
    for (const m of posted) {
      expect(m.threadId).toBe("77");
      expect(visibleTelegramText(m.text).length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    }
    expect(posted[0]?.text.startsWith("<b>Summary</b>\n")).toBe(true);
    expect(sim.calls({ endpoint: "sendMessage" }).every((c) => c.body.parse_mode === "HTML")).toBe(true);
    expect(words(posted.map((m) => visibleTelegramText(m.text)).join(" "))).toEqual(
      words(text.replace(/\*\*/g, "")),
    );
  });

  it("classifies failures", async () => {
    const failure = async () => {
      const error = await sendAll(sender, outbound(reply, "x")).then(
        () => undefined,
        (e: unknown) => e,
      );
      return error instanceof DeliveryError ? [error.kind, error.retryAfterMs] : error;
    };
    sim.fail({ platform: "telegram", status: 429, retryAfterSeconds: 3 });
    expect(await failure()).toEqual(["rate_limited", 3_000]);
    sim.fail({ platform: "telegram", status: 502 });
    expect(await failure()).toEqual(["transient", undefined]);
    sim.fail({ platform: "telegram", status: 403, description: "Forbidden: bot was blocked by the user" });
    expect(await failure()).toEqual(["permanent", undefined]);
  });
});
