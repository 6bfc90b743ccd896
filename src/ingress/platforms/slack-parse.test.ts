// The Slack normalisation rules (slack-parse.ts), exercised through signed webhook requests.
import { describe, expect, it } from "vitest";
import {
  mustAccept,
  TEST_NOW as NOW,
  TEST_NOW_S as NOW_S,
  type SignedRequest,
  sender,
} from "../../../test/support/webhooks/common.ts";
import {
  SLACK_TEST_BOT_USER_ID,
  SLACK_TEST_CHANNEL_ID,
  SLACK_TEST_DM_CHANNEL_ID,
  SLACK_TEST_SIGNING_SECRET,
  SLACK_TEST_TEAM_ID,
  SLACK_TEST_USER_ID,
  type SlackSignOptions,
  signedSlackCommand,
  signedSlackEvent,
  signedSlackInteraction,
  slackAppMention,
  slackAppMentionTwin,
  slackBlockAction,
  slackDirectMessage,
  slackFile,
  slackInteraction,
  slackMessageEvent,
  slackSlashCommand,
} from "../../../test/support/webhooks/slack.ts";
import type { InboundEvent } from "../event.ts";
import { createSlackWebhook, parseSlackPayload } from "./slack.ts";

const send = sender(createSlackWebhook({ signingSecret: SLACK_TEST_SIGNING_SECRET }));
const at: SlackSignOptions = { timestamp: NOW_S };

async function events(signed: SignedRequest): Promise<InboundEvent[]> {
  const { response, events } = mustAccept(await send(signed));
  expect(response).toEqual({ status: 200 });
  return [...events];
}

async function only(signed: SignedRequest): Promise<InboundEvent> {
  const list = await events(signed);
  expect(list).toHaveLength(1);
  return list[0] as InboundEvent;
}

describe("Slack messages", () => {
  it("gives a message and its app_mention twin the same id, text and addressing", async () => {
    const message = slackMessageEvent({
      text: `<@${SLACK_TEST_BOT_USER_ID}>  deploy the <@U0OTHER> branch `,
    });
    const twin = slackAppMentionTwin(message);
    expect(twin.event_id).not.toBe(message.event_id);
    const fromMessage = await only(signedSlackEvent(message, at));
    const fromMention = await only(signedSlackEvent(twin, at));
    expect(fromMessage.eventId).toBe(`msg:${SLACK_TEST_CHANNEL_ID}:${message.event.ts}`);
    for (const field of [
      "eventId",
      "conversation",
      "sender",
      "occurredAt",
      "addressedToBot",
      "content",
      "reply",
    ]) {
      expect(fromMention[field as keyof InboundEvent]).toEqual(fromMessage[field as keyof InboundEvent]);
    }
    expect(fromMessage.addressedToBot).toBe(true);
    expect(fromMessage.content).toEqual({
      type: "message",
      text: "deploy the <@U0OTHER> branch",
      attachments: [],
    });
  });

  it("keys a top-level channel message by its own ts and answers in its thread", async () => {
    const message = slackMessageEvent({ text: "just chatting", ts: "1700000123.000200" });
    expect(await only(signedSlackEvent(message, at))).toEqual({
      platform: "slack",
      eventId: `msg:${SLACK_TEST_CHANNEL_ID}:1700000123.000200`,
      conversation: {
        key: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}:1700000123.000200`,
        kind: "group",
      },
      sender: { platformUserId: SLACK_TEST_USER_ID },
      occurredAt: 1_700_000_123_000,
      receivedAt: NOW,
      addressedToBot: false,
      content: { type: "message", text: "just chatting", attachments: [] },
      reply: {
        platform: "slack",
        teamId: SLACK_TEST_TEAM_ID,
        channel: SLACK_TEST_CHANNEL_ID,
        threadTs: "1700000123.000200",
        messageTs: "1700000123.000200",
      },
      raw: expect.objectContaining({ event_id: message.event_id, event: message.event }),
    });
  });

  it("keys a thread reply by the thread", async () => {
    const event = await only(signedSlackEvent(slackMessageEvent({ thread_ts: "1700000001.000100" }), at));
    expect(event.conversation.key).toBe(
      `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}:1700000001.000100`,
    );
    expect(event.reply).toMatchObject({ threadTs: "1700000001.000100" });
  });

  it("keys a DM by the channel alone, unless the message is in a DM thread", async () => {
    const top = await only(signedSlackEvent(slackDirectMessage({ text: "hi" }), at));
    expect(top.conversation).toEqual({
      key: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_DM_CHANNEL_ID}`,
      kind: "dm",
    });
    expect(top.addressedToBot).toBe(true);
    expect(top.reply).not.toHaveProperty("threadTs");

    const threaded = await only(signedSlackEvent(slackDirectMessage({ thread_ts: "1700000002.000100" }), at));
    expect(threaded.conversation.key).toBe(
      `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_DM_CHANNEL_ID}:1700000002.000100`,
    );
    expect(threaded.reply).toMatchObject({ threadTs: "1700000002.000100" });
  });

  it("treats private channels and group DMs as groups", async () => {
    for (const channelType of ["group", "mpim"]) {
      const event = await only(
        signedSlackEvent(slackMessageEvent({ channel: "G0PRIV", channel_type: channelType }), at),
      );
      expect(event.conversation.kind).toBe("group");
    }
  });

  it("drops messages from bots, including its own", async () => {
    const fromBots = [
      slackMessageEvent({ bot_id: "B0OTHER" }),
      slackMessageEvent({ subtype: "bot_message", bot_id: "B0OTHER" }),
      slackMessageEvent({ user: SLACK_TEST_BOT_USER_ID }),
      slackAppMention({ bot_id: "B0OTHER" }),
    ];
    for (const payload of fromBots) expect(await events(signedSlackEvent(payload, at))).toEqual([]);
  });

  it("ignores edits, deletions, joins and other event types", async () => {
    const ignored = [
      slackMessageEvent({ subtype: "message_changed", user: undefined }),
      slackMessageEvent({ subtype: "message_deleted" }),
      slackMessageEvent({ subtype: "channel_join" }),
      slackMessageEvent({}, { event: { type: "reaction_added" } as never }),
      { type: "app_rate_limited", team_id: SLACK_TEST_TEAM_ID, minute_rate_limited: 1518467820 },
    ];
    for (const payload of ignored) expect(await events(signedSlackEvent(payload, at))).toEqual([]);
  });

  it("keeps thread broadcasts and turns shared files into attachments", async () => {
    const broadcast = await only(
      signedSlackEvent(
        slackMessageEvent({ subtype: "thread_broadcast", thread_ts: "1700000003.000100" }),
        at,
      ),
    );
    expect(broadcast.conversation.key).toMatch(/:1700000003\.000100$/);

    const image = slackFile();
    const bare = slackFile({
      mimetype: undefined,
      size: undefined,
      url_private_download: undefined,
      url_private: undefined,
    });
    const shared = await only(
      signedSlackEvent(slackMessageEvent({ subtype: "file_share", text: "", files: [image, bare] }), at),
    );
    expect(shared.content).toEqual({
      type: "message",
      text: "",
      attachments: [
        {
          kind: "image",
          ref: image.url_private_download,
          name: "diagram.png",
          mimeType: "image/png",
          sizeBytes: 2048,
        },
        { kind: "other", ref: bare.id, name: "diagram.png" },
      ],
    });
  });
});

describe("Slack interactivity and commands", () => {
  it("turns a button click into an action in the message's conversation", async () => {
    const payload = slackBlockAction({
      actionId: "approve",
      value: "req-42",
      messageTs: "1700000004.000100",
    });
    const event = await only(signedSlackInteraction(payload, at));
    expect(event).toMatchObject({
      eventId: `action:${String(payload.trigger_id)}:approve`,
      conversation: {
        key: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}:1700000004.000100`,
        kind: "group",
      },
      sender: { platformUserId: SLACK_TEST_USER_ID, displayName: "mei" },
      addressedToBot: true,
      content: { type: "action", actionId: "approve", value: "req-42" },
      reply: {
        platform: "slack",
        teamId: SLACK_TEST_TEAM_ID,
        channel: SLACK_TEST_CHANNEL_ID,
        threadTs: "1700000004.000100",
        messageTs: "1700000004.000100",
        responseUrl: payload.response_url,
        triggerId: payload.trigger_id,
      },
    });
    expect(event.raw).not.toHaveProperty("token");
  });

  it("puts a click on a threaded bot message in that thread, and reads select menus", async () => {
    const payload = slackBlockAction({ messageTs: "1700000006.000100", threadTs: "1700000005.000100" });
    const actions = payload.actions as Record<string, unknown>[];
    payload.actions = [{ ...actions[0], value: undefined, selected_option: { value: "opus" } }];
    const event = await only(signedSlackInteraction(payload, at));
    expect(event.conversation.key).toMatch(/:1700000005\.000100$/);
    expect(event.content).toMatchObject({ value: "opus" });
  });

  it("ignores modal submissions, shortcuts and clicks outside a channel", async () => {
    const ignored = [
      slackInteraction("view_submission", {
        view: { id: "V1", callback_id: "settings", state: { values: {} } },
      }),
      slackInteraction("shortcut", { callback_id: "new_task" }),
      {
        ...slackBlockAction(),
        channel: undefined,
        container: { type: "view", view_id: "V1" },
        message: undefined,
      },
    ];
    for (const payload of ignored) expect(await events(signedSlackInteraction(payload, at))).toEqual([]);
  });

  it("turns a slash command into a command event answered with an empty 200", async () => {
    const fields = slackSlashCommand({ text: "  fix the build  " });
    const event = await only(signedSlackCommand(fields, at));
    expect(event).toMatchObject({
      eventId: `command:${fields.trigger_id}`,
      conversation: { key: `slack:${SLACK_TEST_TEAM_ID}:${SLACK_TEST_CHANNEL_ID}`, kind: "group" },
      addressedToBot: true,
      occurredAt: NOW,
      content: { type: "command", command: "claude", text: "fix the build" },
      reply: { responseUrl: fields.response_url, triggerId: fields.trigger_id },
    });
    const dm = await only(
      signedSlackCommand(slackSlashCommand({ channel_id: SLACK_TEST_DM_CHANNEL_ID }), at),
    );
    expect(dm.conversation.kind).toBe("dm");
  });

  it("names a command like every platform does: without the slash, in lower case", async () => {
    const event = await only(signedSlackCommand(slackSlashCommand({ command: "/Claude" }), at));
    expect(event.content).toMatchObject({ type: "command", command: "claude" });
    const empty = signedSlackCommand(slackSlashCommand({ command: "/" }), at);
    expect(await send(empty)).toMatchObject({ kind: "rejected", status: 400 });
  });

  it("gives Socket Mode payloads the same events as HTTP", async () => {
    const message = slackMessageEvent({ text: `<@${SLACK_TEST_BOT_USER_ID}> hi` });
    const click = slackBlockAction();
    const command = slackSlashCommand();
    const ctx = { receivedAt: NOW };
    expect(parseSlackPayload("events_api", message, ctx)).toEqual({
      ok: true,
      events: await events(signedSlackEvent(message, at)),
    });
    expect(parseSlackPayload("interactive", click, ctx)).toEqual({
      ok: true,
      events: await events(signedSlackInteraction(click, at)),
    });
    expect(parseSlackPayload("slash_commands", command, ctx)).toEqual({
      ok: true,
      events: await events(signedSlackCommand(command, at)),
    });
  });
});
