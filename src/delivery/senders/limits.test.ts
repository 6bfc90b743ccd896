import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import { DeliveryError } from "../errors.ts";
import { visibleTelegramText } from "../format/telegram-html.ts";
import type { LiveMessage, OutboundMessage, PlatformSender } from "../port.ts";
import { outbound, sendAll, words } from "../testing/messages.ts";
import { DiscordSender } from "./discord.ts";
import { SLACK_CHUNK_LIMIT, SlackSender } from "./slack.ts";
import { TELEGRAM_TEXT_LIMIT, TelegramSender } from "./telegram.ts";

/**
 * Limits measured after conversion (escaping and markers make text longer), and a final answer whose live
 * message was deleted meanwhile: posted anew, never lost.
 */
describe("senders: converted sizes and deleted live messages", () => {
  let sim: PlatformSimulator;
  let slack: SlackSender;
  let telegram: TelegramSender;
  let discord: DiscordSender;

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    const urls = sim.baseUrls();
    slack = new SlackSender({ botToken: "xoxb-test", apiUrl: urls.SLACK_API_URL });
    telegram = new TelegramSender({ botToken: "123:abc", apiRoot: urls.TELEGRAM_API_ROOT });
    discord = new DiscordSender({ botToken: "bot-token", apiUrl: urls.DISCORD_API_URL });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  /** Markdown just under `limit` whose conversion is longer (each `&&` becomes `&amp;&amp;`). */
  const growing = (limit: number) => {
    const lines: string[] = [];
    for (let i = 0; lines.join("\n").length < limit - 40; i++) lines.push(`w${i} => a && b`);
    return lines.join("\n");
  };

  it("slack: a reply near 3,000 whose escaping grows it is split so every section fits", async () => {
    const text = growing(SLACK_CHUNK_LIMIT);
    expect(text.length).toBeLessThanOrEqual(SLACK_CHUNK_LIMIT);
    const chunks = await sendAll(slack, outbound({ platform: "slack", teamId: "T1", channel: "C9" }, text));
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    const calls = sim.calls({ endpoint: "chat.postMessage" });
    expect(calls.every((c) => c.status === 200 && c.body.ok !== false)).toBe(true);
    const sections = calls.map(
      (c) => (c.body.blocks as { text: { text: string } }[] | undefined)?.[0]?.text.text ?? "",
    );
    for (const s of sections) expect(s.length).toBeLessThanOrEqual(SLACK_CHUNK_LIMIT);
    expect(words(sections.join("\n")).filter((w) => /^w\d+$/.test(w))).toEqual(
      words(text).filter((w) => /^w\d+$/.test(w)),
    );
  });

  it("slack: after an expired stream, the rest goes out split into sections, each within the limit", async () => {
    const reply = { platform: "slack", teamId: "T1", channel: "D7", threadTs: "1700000000.000200" } as const;
    const head = "Starting: ";
    const rest = growing(7_000);
    const message = { ...outbound(reply, `${head}${rest}`), extras: { stream: "t1" } };
    const ref = await slack.live?.update(message, undefined, head, AbortSignal.timeout(5_000));
    sim.setSlackStreamIdleMs(0);
    await new Promise((r) => setTimeout(r, 5));
    const live: LiveMessage = { streamKey: "t1", ref: ref ?? {}, text: head };
    const outcome = await slack.sendChunk(message, slack.chunk(message.text)[0] ?? "", 0, "k#0", {
      attempt: 0,
      signal: AbortSignal.timeout(5_000),
      live,
      chunks: 1,
    });
    sim.setSlackStreamIdleMs(5 * 60_000);
    expect(outcome).toBe("complete");
    const posts = sim.calls({ endpoint: "chat.postMessage" });
    expect(posts.length).toBeGreaterThanOrEqual(3);
    for (const c of posts) {
      expect(c.body.ok).not.toBe(false);
      const section = (c.body.blocks as { text: { text: string } }[])[0]?.text.text ?? "";
      expect(section.length).toBeLessThanOrEqual(SLACK_CHUNK_LIMIT);
    }
    expect(sim.messagesTo("D7").filter((m) => m.via === "chat.postMessage")).toHaveLength(posts.length);
  });

  it("telegram: rules and escapes near 4,096 never make a chunk Telegram calls too long", async () => {
    const text = `${"---\n".repeat(600)}${growing(TELEGRAM_TEXT_LIMIT - 2_400)}`;
    expect(text.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    const reply = { platform: "telegram", chatId: -100555 } as const;
    const chunks = await sendAll(telegram, outbound(reply, text));
    for (const c of chunks) expect(visibleTelegramText(c).length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(sim.calls({ endpoint: "sendMessage" }).every((c) => c.status === 200)).toBe(true);
    expect(sim.messagesTo(-100555)).toHaveLength(chunks.length);
  });

  /** Streams `live text` into a new message, deletes it, then sends the final answer over it. */
  async function finalAfterDelete(
    sender: PlatformSender,
    message: OutboundMessage,
    platform: "telegram" | "discord" | "slack",
  ) {
    const ref = await sender.live?.update(message, undefined, "live text", AbortSignal.timeout(5_000));
    expect(ref?.messageId).toBeDefined();
    expect(sim.deleteMessage(platform, ref?.messageId ?? "")).toBe(true);
    const live: LiveMessage = { streamKey: "turn", ref: ref ?? {}, text: "live text" };
    const chunks = sender.chunk(message.text);
    for (const [index, chunk] of chunks.entries()) {
      await sender.sendChunk(message, chunk, index, `${message.idempotencyKey}#${index}`, {
        attempt: 0,
        signal: AbortSignal.timeout(5_000),
        live,
        chunks: chunks.length,
      });
    }
  }

  it("telegram: a deleted live message is replaced by a new one with the final answer", async () => {
    const message = outbound({ platform: "telegram", chatId: -100777 }, "the **final** answer");
    await finalAfterDelete(telegram, message, "telegram");
    expect(sim.messagesTo(-100777).map((m) => m.text)).toEqual(["the <b>final</b> answer"]);
  });

  it("discord: Unknown Message (10008) on the live message posts the answer anew", async () => {
    const message = outbound({ platform: "discord", channelId: "1100000000000000077" }, "the final answer");
    await finalAfterDelete(discord, message, "discord");
    expect(sim.messagesTo("1100000000000000077").map((m) => m.text)).toEqual(["the final answer"]);
  });

  it("slack: message_not_found on the edited live message posts the answer anew", async () => {
    const message = outbound({ platform: "slack", teamId: "T1", channel: "D77" }, "the final answer");
    await finalAfterDelete(slack, message, "slack");
    expect(sim.messagesTo("D77").map((m) => m.text)).toEqual(["the final answer"]);
  });

  it("discord: a global 429 holds the whole bot, a route's only the chat", async () => {
    // A client of its own per case: after a global 429 the REST client itself holds every route.
    const failure = async () =>
      sendAll(
        new DiscordSender({ botToken: "bot-token", apiUrl: sim.baseUrls().DISCORD_API_URL }),
        outbound({ platform: "discord", channelId: "1100000000000000078" }, "x"),
      ).then(
        () => undefined,
        (e: unknown) => (e instanceof DeliveryError ? e.scope : e),
      );
    sim.fail({ platform: "discord", status: 429, retryAfterSeconds: 1, global: true });
    expect(await failure()).toBe("bot");
    sim.fail({ platform: "discord", status: 429, retryAfterSeconds: 1 });
    expect(await failure()).toBe("chat");
  });
});
