import { describe, expect, it } from "vitest";
import { mustAccept, statusOf } from "../../../test/support/webhooks/common.ts";
import {
  forumChat,
  groupChat,
  TELEGRAM_TEST_BOT_ID,
  TELEGRAM_TEST_BOT_TOKEN,
  TELEGRAM_TEST_BOT_USERNAME,
  TELEGRAM_TEST_SECRET,
  telegramBotUser,
  telegramCallbackUpdate,
  telegramFuzzBodies,
  telegramPhotoUpdate,
  telegramRequest,
  telegramTextUpdate,
  telegramUser,
  webhookRequest,
} from "../../../test/support/webhooks/telegram.ts";
import type { InboundEvent } from "../event.ts";
import { botIdFromToken, createTelegramWebhook, parseTelegramUpdate } from "./telegram.ts";
import type { WebhookResult } from "./types.ts";

const options = {
  secretToken: TELEGRAM_TEST_SECRET,
  botId: TELEGRAM_TEST_BOT_ID,
  botUsername: "@Cloudclaude_Test_Bot",
};
const webhook = createTelegramWebhook(options);

function send(update: unknown, secret?: string | null, hook = webhook): Promise<WebhookResult> {
  const request = telegramRequest(update, secret === undefined ? {} : { secret });
  return hook.handle(webhookRequest(request, 9_000));
}

async function events(update: unknown, hook = webhook): Promise<readonly InboundEvent[]> {
  const result = await send(update, undefined, hook);
  const { response, events: list } = mustAccept(result);
  expect(response).toEqual({ status: 200 });
  return list;
}

async function only(update: unknown, hook = webhook): Promise<InboundEvent> {
  const [first, ...rest] = await events(update, hook);
  expect(rest).toEqual([]);
  if (first === undefined) throw new Error("no event");
  return first;
}

describe("Telegram secret token", () => {
  it("accepts the configured token and refuses a missing, wrong or differently sized one", async () => {
    const update = telegramTextUpdate();
    expect(await send(update)).toMatchObject({ kind: "accepted" });
    expect(await send(update, null)).toEqual({
      kind: "rejected",
      status: 401,
      reason: "missing secret token",
    });
    const sameLength = `${TELEGRAM_TEST_SECRET.slice(0, -1)}X`;
    expect(await send(update, sameLength)).toEqual({
      kind: "rejected",
      status: 401,
      reason: "bad secret token",
    });
    expect(await send(update, TELEGRAM_TEST_SECRET.slice(1))).toMatchObject({ status: 401 });
    expect(await send(update, `${TELEGRAM_TEST_SECRET}a`)).toMatchObject({ status: 401 });
    expect(await send(update, "")).toMatchObject({ status: 401 });
    expect(await send("not json", "wrong")).toMatchObject({ status: 401 });
  });

  it("refuses to be built with a token Telegram would not accept", () => {
    expect(() => createTelegramWebhook({ secretToken: "" })).toThrow(/secret token/);
    expect(() => createTelegramWebhook({ secretToken: "has space" })).toThrow(/secret token/);
  });

  it("reads the bot id from a bot token", () => {
    expect(botIdFromToken(TELEGRAM_TEST_BOT_TOKEN)).toBe(TELEGRAM_TEST_BOT_ID);
    expect(botIdFromToken("123456:ABC-DEF")).toBe(123456);
    expect(botIdFromToken("ABC:123")).toBeUndefined();
    expect(botIdFromToken("0:abc")).toBeUndefined();
    expect(botIdFromToken("99999999999999999:abc")).toBeUndefined();
  });
});

describe("Telegram messages", () => {
  it("turns a private text message into an addressed DM event", async () => {
    const from = telegramUser({ username: "ada", language_code: "ja" });
    const update = telegramTextUpdate({
      from,
      text: "  fix the tests  ",
      date: 1_700_000_000,
      message_id: 42,
    });
    expect(await only(update)).toEqual({
      platform: "telegram",
      eventId: `${TELEGRAM_TEST_BOT_ID}:${update.update_id}`,
      conversation: { key: `telegram:${from.id}`, kind: "dm" },
      sender: { platformUserId: String(from.id), displayName: "Ada Lovelace", locale: "ja" },
      occurredAt: 1_700_000_000_000,
      receivedAt: 9_000,
      addressedToBot: true,
      content: { type: "message", text: "fix the tests", attachments: [] },
      reply: { platform: "telegram", chatId: from.id, messageId: 42 },
      raw: update,
    });
  });

  it("stores group chatter without a mention as not addressed", async () => {
    const chat = groupChat({ title: "Dev team" });
    const event = await only(telegramTextUpdate({ chat, text: "lunch?" }));
    expect(event).toMatchObject({
      conversation: { key: `telegram:${chat.id}`, kind: "group", title: "Dev team" },
      addressedToBot: false,
      content: { text: "lunch?" },
    });
  });

  it("recognises and strips the bot's @mention (any case), not other people's", async () => {
    const chat = groupChat();
    const mentioned = await only(
      telegramTextUpdate({ chat, text: `hey @${TELEGRAM_TEST_BOT_USERNAME} fix it` }),
    );
    expect(mentioned).toMatchObject({ addressedToBot: true, content: { text: "hey fix it" } });
    const shouted = await only(telegramTextUpdate({ chat, text: "@CLOUDCLAUDE_TEST_BOT status" }));
    expect(shouted).toMatchObject({ addressedToBot: true, content: { text: "status" } });
    const other = await only(telegramTextUpdate({ chat, text: "@someone_else look" }));
    expect(other).toMatchObject({ addressedToBot: false, content: { text: "@someone_else look" } });
  });

  it("treats /cmd@us and a leading bare /cmd as ours, /cmd@other and mid-text commands not", async () => {
    const chat = groupChat();
    const text = async (t: string, hook = webhook) => {
      const e = await only(telegramTextUpdate({ chat, text: t }), hook);
      return [e.addressedToBot, e.content.type === "message" ? e.content.text : ""];
    };
    expect(await text(`/new@${TELEGRAM_TEST_BOT_USERNAME} refactor`)).toEqual([true, "/new refactor"]);
    expect(await text("/status")).toEqual([true, "/status"]);
    expect(await text("/start@other_bot")).toEqual([false, "/start@other_bot"]);
    expect(await text("try /help")).toEqual([false, "try /help"]);
    const anonymous = createTelegramWebhook({
      secretToken: TELEGRAM_TEST_SECRET,
      botId: TELEGRAM_TEST_BOT_ID,
    });
    expect(await text("/new@whoever go", anonymous)).toEqual([true, "/new go"]);
  });

  it("treats a text_mention of the bot and a reply to the bot as addressed", async () => {
    const chat = groupChat();
    const bot = telegramBotUser();
    const byName = await only(
      telegramTextUpdate({
        chat,
        text: "Claude hi",
        entities: [{ type: "text_mention", offset: 0, length: 6, user: bot }],
      }),
    );
    expect(byName).toMatchObject({ addressedToBot: true, content: { text: "hi" } });
    const reply = await only(
      telegramTextUpdate({
        chat,
        text: "and then?",
        reply_to_message: { message_id: 1, from: bot, chat, date: 1 },
      }),
    );
    expect(reply.addressedToBot).toBe(true);
    const replyToHuman = await only(
      telegramTextUpdate({
        chat,
        text: "ok",
        reply_to_message: { message_id: 1, from: telegramUser(), chat, date: 1 },
      }),
    );
    expect(replyToHuman.addressedToBot).toBe(false);
  });

  it("keys forum topics by topic, but not reply chains in ordinary supergroups", async () => {
    const forum = forumChat();
    const topic = await only(
      telegramTextUpdate({ chat: forum, message_thread_id: 77, is_topic_message: true }),
    );
    expect(topic.conversation.key).toBe(`telegram:${forum.id}:77`);
    expect(topic.reply).toMatchObject({ chatId: forum.id, messageThreadId: 77 });

    const plain = groupChat();
    const chain = await only(telegramTextUpdate({ chat: plain, message_thread_id: 55 }));
    expect(chain.conversation.key).toBe(`telegram:${plain.id}`);
    expect(chain.reply).not.toHaveProperty("messageThreadId");
  });

  it("drops the bot's own messages", async () => {
    expect(await events(telegramTextUpdate({ from: telegramBotUser(), chat: groupChat() }))).toEqual([]);
  });

  it("turns a photo with a caption into text plus its largest size", async () => {
    const update = telegramPhotoUpdate(`@${TELEGRAM_TEST_BOT_USERNAME} what is this?`, { chat: groupChat() });
    const event = await only(update);
    expect(event.addressedToBot).toBe(true);
    expect(event.content).toEqual({
      type: "message",
      text: "what is this?",
      attachments: [
        {
          kind: "image",
          ref: (update.message.photo as { file_id: string }[])[2]?.file_id,
          sizeBytes: 128_000,
        },
      ],
    });
  });

  it("turns documents, voice notes and stickers into attachments or short text", async () => {
    const document = {
      file_id: "BQAC1",
      file_unique_id: "u1",
      file_name: "log.txt",
      mime_type: "text/plain",
      file_size: 12,
    };
    const doc = await only(telegramTextUpdate({ extra: { document } }));
    expect(doc.content).toEqual({
      type: "message",
      text: "",
      attachments: [{ kind: "file", ref: "BQAC1", name: "log.txt", mimeType: "text/plain", sizeBytes: 12 }],
    });
    const voice = await only(
      telegramTextUpdate({ extra: { voice: { file_id: "AwAC", file_unique_id: "u2", duration: 3 } } }),
    );
    expect(voice.content).toEqual({
      type: "message",
      text: "",
      attachments: [{ kind: "audio", ref: "AwAC" }],
    });
    expect(await events(telegramTextUpdate({ extra: { photo: [] } }))).toEqual([]);
    const sticker = await only(telegramTextUpdate({ extra: { sticker: { file_id: "s", emoji: "👍" } } }));
    expect(sticker.content).toEqual({ type: "message", text: "[sticker 👍]", attachments: [] });
  });

  it("ignores service messages and every update type but message and callback_query", async () => {
    const chat = groupChat();
    const joined = telegramTextUpdate({ chat, extra: { new_chat_members: [telegramUser()] } });
    expect(await events(joined)).toEqual([]);
    const { message } = telegramTextUpdate();
    for (const kind of ["edited_message", "channel_post", "edited_channel_post", "business_message"]) {
      expect(await events({ update_id: 5, [kind]: message })).toEqual([]);
    }
    expect(await events({ update_id: 6, my_chat_member: { chat, date: 1 } })).toEqual([]);
    expect(await events({ update_id: 7, something_from_2030: { x: 1 } })).toEqual([]);
  });
});

describe("Telegram callbacks", () => {
  it("turns a button press into an addressed action answering in place", async () => {
    const from = telegramUser();
    const chat = forumChat();
    const update = telegramCallbackUpdate("approve:42", {
      from,
      chat,
      message_id: 300,
      message_thread_id: 9,
      is_topic_message: true,
    });
    expect(await only(update)).toEqual({
      platform: "telegram",
      eventId: `${TELEGRAM_TEST_BOT_ID}:${update.update_id}`,
      conversation: { key: `telegram:${chat.id}:9`, kind: "group", title: "Forum" },
      sender: { platformUserId: String(from.id), displayName: "Ada Lovelace", locale: "en" },
      occurredAt: 9_000,
      receivedAt: 9_000,
      addressedToBot: true,
      content: { type: "action", actionId: "callback", value: "approve:42" },
      reply: {
        platform: "telegram",
        chatId: chat.id,
        messageThreadId: 9,
        messageId: 300,
        callbackQueryId: update.callback_query.id,
      },
      raw: update,
    });
  });

  it("uses an empty value when there is no data, and ignores presses on inline-mode messages", async () => {
    expect((await only(telegramCallbackUpdate(undefined))).content).toEqual({
      type: "action",
      actionId: "callback",
      value: "",
    });
    const inline = telegramCallbackUpdate("x");
    delete inline.callback_query.message;
    expect(await events(inline)).toEqual([]);
  });
});

describe("Telegram refusals and parity", () => {
  it.each([
    ["update_id missing", { message: telegramTextUpdate().message }],
    ["update_id a string", { update_id: "12", message: telegramTextUpdate().message }],
    ["update_id not an integer", { update_id: 1.5 }],
    ["message without chat", { update_id: 1, message: { message_id: 1, date: 1, text: "x" } }],
    ["message null", { update_id: 1, message: null }],
    ["callback without id", { update_id: 1, callback_query: { from: telegramUser() } }],
    ["an array", [telegramTextUpdate()]],
    ["null", null],
  ])("answers 400 to a malformed update: %s", async (_name, update) => {
    expect(await send(update)).toMatchObject({ kind: "rejected", status: 400 });
  });

  it("answers 400 to a body that is not JSON", async () => {
    expect(await send("{")).toEqual({ kind: "rejected", status: 400, reason: "body is not UTF-8 JSON" });
  });

  it("produces the same events for polling as for the webhook, scoped by bot id when known", async () => {
    const update = telegramTextUpdate({ chat: groupChat(), text: `@${TELEGRAM_TEST_BOT_USERNAME} hi` });
    const polled = parseTelegramUpdate(update, { receivedAt: 9_000, ...options });
    expect(polled).toEqual({ ok: true, events: await events(update) });
    const unscoped = parseTelegramUpdate(update, { receivedAt: 0 });
    expect(unscoped.ok && unscoped.events[0]?.eventId).toBe(`bot:${update.update_id}`);
  });
});

describe("Telegram robustness", () => {
  it("never throws, and answers 200/400 to hostile bodies with the right secret", async () => {
    const headers = new Headers({ "x-telegram-bot-api-secret-token": TELEGRAM_TEST_SECRET });
    const seen = new Set<number>();
    for (const body of telegramFuzzBodies(500, 7)) {
      const result = await webhook.handle({ headers, body, receivedAt: 0 });
      expect([200, 400]).toContain(statusOf(result));
      seen.add(statusOf(result));
      if (result.kind === "accepted") expect(() => JSON.stringify(result.events)).not.toThrow();
    }
    expect([...seen].sort()).toEqual([200, 400]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
