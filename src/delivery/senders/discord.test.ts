import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import { DeliveryError } from "../errors.ts";
import { longText, outbound, sendAll, words } from "../testing/messages.ts";
import { DISCORD_CONTENT_LIMIT, DiscordSender } from "./discord.ts";
import { nonceFromKey } from "./shared.ts";

describe("DiscordSender against the simulator", () => {
  let sim: PlatformSimulator;
  let sender: DiscordSender;
  const channelId = "1100000000000000001";
  const interaction = {
    platform: "discord",
    channelId,
    interactionId: "1200000000000000001",
    interactionToken: "itoken-1",
    applicationId: "1300000000000000001",
  } as const;

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    sim.registerDiscordInteraction("itoken-1", channelId);
    sender = new DiscordSender({ botToken: "bot-token", apiUrl: sim.baseUrls().DISCORD_API_URL });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it("edits the deferred original with the first chunk and sends the rest as followups", async () => {
    const text = longText(6, 900);
    const chunks = await sendAll(sender, outbound(interaction, text));
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const calls = sim.calls({ platform: "discord" });
    expect(calls.map((c) => c.endpoint)).toEqual(["editOriginal", ...chunks.slice(1).map(() => "followup")]);
    expect(calls.every((c) => c.headers.authorization === undefined)).toBe(true);
    expect(calls[0]?.path).toBe(
      `/discord/api/v10/webhooks/${interaction.applicationId}/itoken-1/messages/@original`,
    );
    const posted = sim.messagesTo(channelId);
    for (const m of posted) expect(m.text.length).toBeLessThanOrEqual(DISCORD_CONTENT_LIMIT);
    expect(words(posted.map((m) => m.text).join(" "))).toEqual(words(text));
  });

  it("posts channel messages once the interaction token is old, replying with the first chunk only", async () => {
    const reply = { ...interaction, messageId: "1400000000000000001" };
    const message = outbound(reply, longText(3, 1_500), { inboundReceivedAt: Date.now() - 16 * 60_000 });
    const chunks = await sendAll(sender, message);
    const calls = sim.calls({ platform: "discord" });
    expect(calls.map((c) => c.endpoint)).toEqual(chunks.map(() => "createMessage"));
    expect(calls[0]?.headers.authorization).toBe("Bot bot-token");
    expect(calls[0]?.body).toMatchObject({
      message_reference: { message_id: reply.messageId },
      nonce: nonceFromKey(`${message.idempotencyKey}#0`),
      enforce_nonce: true,
      allowed_mentions: { parse: [] },
    });
    expect(calls[1]?.body.message_reference).toBeUndefined();
    expect(sim.messagesTo(channelId).map((m) => m.replyTo)).toEqual(
      chunks.map((_, i) => (i === 0 ? reply.messageId : undefined)),
    );
  });

  it("posts in the channel when the interaction webhook is gone", async () => {
    sim.fail({ endpoint: "editOriginal", status: 404, body: { code: 10015, message: "Unknown Webhook" } });
    await sendAll(sender, outbound(interaction, "hello"));
    expect(sim.calls({ platform: "discord" }).map((c) => `${c.endpoint} ${c.status}`)).toEqual([
      "editOriginal 404",
      "createMessage 200",
    ]);
  });

  it("lets Discord deduplicate a resent chunk by its nonce", async () => {
    const message = outbound({ platform: "discord", channelId }, "only once");
    await sendAll(sender, message);
    await sendAll(sender, message, 1);
    expect(sim.calls({ endpoint: "createMessage" }).map((c) => c.duplicate)).toEqual([false, true]);
    expect(sim.messagesTo(channelId)).toHaveLength(1);
  });

  it("classifies failures without retrying on its own", async () => {
    const failure = async () => {
      const message = outbound({ platform: "discord", channelId }, "x");
      const error = await sendAll(sender, message).then(
        () => undefined,
        (e: unknown) => e,
      );
      return error instanceof DeliveryError ? [error.kind, error.retryAfterMs] : error;
    };
    sim.fail({ platform: "discord", status: 429, retryAfterSeconds: 2 });
    expect(await failure()).toMatchObject(["rate_limited", expect.any(Number)]);
    sim.fail({ platform: "discord", status: 500 });
    expect(await failure()).toEqual(["transient", undefined]);
    sim.fail({ platform: "discord", status: 403, body: { code: 50013, message: "Missing Permissions" } });
    expect(await failure()).toEqual(["permanent", undefined]);
    expect(sim.calls({ platform: "discord" })).toHaveLength(3);
  });
});
