// The Discord normalisation rules (discord-parse.ts): interactions through signed requests, Gateway messages.
import { describe, expect, it } from "vitest";
import {
  mustAccept,
  TEST_NOW as NOW,
  TEST_NOW_S as NOW_S,
  type SignedRequest,
  sender,
} from "../../../test/support/webhooks/common.ts";
import {
  createDiscordTestKeys,
  DISCORD_TEST_APPLICATION_ID,
  DISCORD_TEST_CHANNEL_ID,
  DISCORD_TEST_DM_CHANNEL_ID,
  DISCORD_TEST_GUILD_ID,
  DISCORD_TEST_USER_ID,
  discordAttachment,
  discordComponent,
  discordGatewayMessage,
  discordSlashCommand,
  signedDiscordRequest,
} from "../../../test/support/webhooks/discord.ts";
import type { InboundEvent } from "../event.ts";
import { createDiscordWebhook, parseDiscordGatewayMessage, parseDiscordInteraction } from "./discord.ts";

const keys = createDiscordTestKeys();
const send = sender(
  createDiscordWebhook({ publicKey: keys.publicKeyHex, applicationId: DISCORD_TEST_APPLICATION_ID }),
);
const signed = (payload: unknown) => signedDiscordRequest(keys, payload, String(NOW_S));
const gatewayCtx = { receivedAt: NOW, applicationId: DISCORD_TEST_APPLICATION_ID };

async function accepted(request: SignedRequest): Promise<{ events: readonly InboundEvent[]; json: unknown }> {
  const { response, events } = mustAccept(await send(request));
  expect(response.status).toBe(200);
  return { events, json: response.json };
}

function gatewayEvents(message: unknown): InboundEvent[] {
  const outcome = parseDiscordGatewayMessage(message, gatewayCtx);
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome.events;
}

describe("Discord interactions", () => {
  it("defers a slash command and reads its prompt", async () => {
    const interaction = discordSlashCommand({ prompt: "  fix the flaky test " });
    const { events, json } = await accepted(signed(interaction));
    expect(json).toEqual({ type: 5 });
    expect(events).toEqual([
      {
        platform: "discord",
        eventId: interaction.id,
        conversation: { key: `discord:${DISCORD_TEST_CHANNEL_ID}`, kind: "group" },
        sender: { platformUserId: DISCORD_TEST_USER_ID, displayName: "Mei", locale: "en-US" },
        occurredAt: expect.any(Number),
        receivedAt: NOW,
        addressedToBot: true,
        content: { type: "command", command: "claude", text: "fix the flaky test" },
        reply: {
          platform: "discord",
          channelId: DISCORD_TEST_CHANNEL_ID,
          guildId: DISCORD_TEST_GUILD_ID,
          interactionId: interaction.id,
          interactionToken: interaction.token,
          applicationId: DISCORD_TEST_APPLICATION_ID,
        },
        raw: interaction,
      },
    ]);
    // The snowflake's time: our helper mints ids from the clock.
    expect(Math.abs((events[0]?.occurredAt ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it("joins string options when there is no prompt, through subcommands", async () => {
    const options = [
      {
        name: "ask",
        type: 1,
        options: [
          { name: "topic", type: 3, value: "deploys" },
          { name: "n", type: 4, value: 3 },
        ],
      },
      { name: "tone", type: 3, value: "brief" },
    ];
    const { events } = await accepted(signed(discordSlashCommand({ name: "cc", options })));
    expect(events[0]?.content).toEqual({ type: "command", command: "cc", text: "deploys brief" });
    const none = await accepted(signed(discordSlashCommand({ prompt: null })));
    expect(none.events[0]?.content).toEqual({ type: "command", command: "claude", text: "" });
  });

  it("treats an interaction without a guild as a DM", async () => {
    const interaction = discordSlashCommand({ guildId: null, locale: "ja" });
    const { events } = await accepted(signed(interaction));
    expect(events[0]).toMatchObject({
      conversation: { key: `discord:${DISCORD_TEST_DM_CHANNEL_ID}`, kind: "dm" },
      sender: { platformUserId: DISCORD_TEST_USER_ID, locale: "ja" },
    });
    expect(events[0]?.reply).not.toHaveProperty("guildId");
    // A user-installed app used in a DM between other people (context PRIVATE_CHANNEL) is in a group.
    const privateChannel = await accepted(signed({ ...interaction, context: 2 }));
    expect(privateChannel.events[0]?.conversation.kind).toBe("group");
  });

  it("turns a button or select into an action acknowledged with a deferred update", async () => {
    const button = discordComponent({ customId: "approve:42", messageId: "1200000000000000001" });
    const clicked = await accepted(signed(button));
    expect(clicked.json).toEqual({ type: 6 });
    expect(clicked.events[0]).toMatchObject({
      eventId: button.id,
      addressedToBot: true,
      content: { type: "action", actionId: "approve:42", value: "approve:42" },
      reply: { messageId: "1200000000000000001", interactionToken: button.token },
    });
    const select = await accepted(signed(discordComponent({ customId: "model", values: ["opus", "haiku"] })));
    expect(select.events[0]?.content).toEqual({ type: "action", actionId: "model", value: "opus,haiku" });
  });

  it("answers autocomplete, modal submits and unknown types without events", async () => {
    const base = discordSlashCommand();
    expect(await accepted(signed({ ...base, type: 4 }))).toEqual({
      events: [],
      json: { type: 8, data: { choices: [] } },
    });
    expect(await accepted(signed({ ...base, type: 5, data: { custom_id: "m", components: [] } }))).toEqual({
      events: [],
      json: { type: 6 },
    });
    expect(await accepted(signed({ ...base, type: 99 }))).toEqual({ events: [], json: { type: 6 } });
  });

  it("answers 400 to signed interactions it cannot read", async () => {
    const command = discordSlashCommand();
    const bodies: unknown[] = [
      "{not json",
      "[]",
      "null",
      { ...command, type: "2" },
      { ...command, id: undefined },
      { ...command, id: "not-a-snowflake" },
      { ...command, token: "" },
      { ...command, channel_id: undefined, channel: undefined },
      { ...command, member: undefined },
      { ...command, data: { options: [] } },
      { ...command, data: { name: "claude", options: [{ name: "prompt" }] } },
      { ...discordComponent(), data: { component_type: 2 } },
    ];
    for (const body of bodies) {
      expect(await send(signed(body))).toMatchObject({ kind: "rejected", status: 400 });
    }
  });

  it("uses the configured application id when an interaction lacks one", () => {
    const outcome = parseDiscordInteraction(
      { ...discordSlashCommand(), application_id: undefined },
      { receivedAt: NOW, applicationId: DISCORD_TEST_APPLICATION_ID },
    );
    expect(outcome).toMatchObject({
      ok: true,
      events: [{ reply: { applicationId: DISCORD_TEST_APPLICATION_ID } }],
    });
  });
});

describe("Discord Gateway messages", () => {
  const botMention = `<@${DISCORD_TEST_APPLICATION_ID}>`;

  it("stores guild chatter that does not address the bot", () => {
    const message = discordGatewayMessage({ content: "lunch?" });
    expect(gatewayEvents(message)).toEqual([
      {
        platform: "discord",
        eventId: message.id,
        conversation: { key: `discord:${DISCORD_TEST_CHANNEL_ID}`, kind: "group" },
        sender: { platformUserId: DISCORD_TEST_USER_ID, displayName: "Mei" },
        occurredAt: Date.parse(String(message.timestamp)),
        receivedAt: NOW,
        addressedToBot: false,
        content: { type: "message", text: "lunch?", attachments: [] },
        reply: {
          platform: "discord",
          channelId: DISCORD_TEST_CHANNEL_ID,
          guildId: DISCORD_TEST_GUILD_ID,
          messageId: message.id,
        },
        raw: message,
      },
    ]);
  });

  it("addresses the bot on a mention and strips both mention forms", () => {
    const message = discordGatewayMessage({
      content: `${botMention} deploy <@!${DISCORD_TEST_APPLICATION_ID}> <@123> now`,
      mentions: [DISCORD_TEST_APPLICATION_ID, "123"],
    });
    expect(gatewayEvents(message)[0]).toMatchObject({
      addressedToBot: true,
      content: { text: "deploy <@123> now" },
    });
    // A mention in content alone (mentions[] missing) still counts.
    expect(gatewayEvents(discordGatewayMessage({ content: `hey ${botMention}` }))[0]).toMatchObject({
      addressedToBot: true,
      content: { text: "hey" },
    });
  });

  it("addresses the bot on a reply to it, and in DMs", () => {
    const reply = discordGatewayMessage({
      content: "and then?",
      replyToAuthorId: DISCORD_TEST_APPLICATION_ID,
    });
    expect(gatewayEvents(reply)[0]?.addressedToBot).toBe(true);
    const replyToOther = discordGatewayMessage({ content: "and then?", replyToAuthorId: "123" });
    expect(gatewayEvents(replyToOther)[0]?.addressedToBot).toBe(false);

    const dm = discordGatewayMessage({ guildId: null, content: "hi" });
    expect(gatewayEvents(dm)[0]).toMatchObject({
      conversation: { key: `discord:${DISCORD_TEST_DM_CHANNEL_ID}`, kind: "dm" },
      addressedToBot: true,
    });
    expect(gatewayEvents(dm)[0]?.reply).not.toHaveProperty("guildId");
  });

  it("drops its own messages, other bots, webhooks and system messages", () => {
    const dropped = [
      discordGatewayMessage({ author: { id: DISCORD_TEST_APPLICATION_ID, username: "CloudClaude" } }),
      discordGatewayMessage({ author: { id: "1300000000000000001", username: "ci", bot: true } }),
      { ...discordGatewayMessage(), webhook_id: "1300000000000000002" },
      discordGatewayMessage({ type: 7 }),
    ];
    for (const message of dropped) expect(gatewayEvents(message)).toEqual([]);
  });

  it("turns attachments into attachments", () => {
    const image = discordAttachment();
    const blob = discordAttachment({ filename: "notes.bin", content_type: undefined, size: 12 });
    const [event] = gatewayEvents(discordGatewayMessage({ content: "", attachments: [image, blob] }));
    expect(event?.content).toEqual({
      type: "message",
      text: "",
      attachments: [
        { kind: "image", ref: image.url, name: "diagram.png", mimeType: "image/png", sizeBytes: 2048 },
        { kind: "other", ref: blob.url, name: "notes.bin", sizeBytes: 12 },
      ],
    });
  });

  it("reports malformed messages", () => {
    const message = discordGatewayMessage();
    for (const broken of [null, "x", { ...message, id: undefined }, { ...message, timestamp: "yesterday" }]) {
      expect(parseDiscordGatewayMessage(broken, gatewayCtx)).toMatchObject({ ok: false });
    }
  });
});
