import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { visibleTelegramText } from "../src/delivery/format/telegram-html.ts";
import { runCli } from "./support/cli.ts";
import { E2eSystem } from "./support/e2e.ts";
import type { SimCall } from "./support/fakes/platform-simulator.ts";
import {
  groupChat,
  TELEGRAM_TEST_BOT_USERNAME,
  type TelegramChat,
  telegramCallbackUpdate,
  telegramRequest,
  telegramTextUpdate,
  telegramUser,
} from "./support/webhooks/telegram.ts";

/**
 * Delivery end to end on the real executable (issue 6): a signed webhook in, a slowly streaming agent (the
 * fake CLI's `drip`), and what each platform's simulator received: live updates no closer together than
 * the configured interval, the final answer formatted and split for the platform, 429s honoured without
 * loss, approval buttons, and a crash while streaming.
 */
const EDIT_MS = 500;
const GROUP_EDIT_MS = 800;

/** A Markdown answer long enough to be split on Telegram and Discord, with things to escape and a code block. */
function longMarkdown(paragraphs: number): string {
  const parts = ["**Plan** for <main> & friends:"];
  for (let i = 0; i < paragraphs; i++) {
    parts.push(Array.from({ length: 60 }, (_, w) => `p${i}w${w}`).join(" "));
    if (i === 2) parts.push("```ts\nconst x = 1 < 2 && 3 > 2;\nconsole.log(x);\n```");
  }
  return parts.join("\n\n");
}

const words = (text: string) => text.split(/\s+/).filter((w) => /^p\d+w\d+$/.test(w));

/**
 * For each call after the first: how long after the simulator answered the previous one it arrived. The
 * governor starts a chat's interval when the platform has answered, so this is never under the interval,
 * however late this busy test process notices a request (arrival-to-arrival gaps would shrink when the
 * earlier arrival is stamped late).
 */
function gaps(calls: readonly SimCall[]): number[] {
  return calls.slice(1).map((c, i) => c.receivedAt - (calls[i]?.at ?? 0));
}

describe("delivery on every platform", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start({
      DELIVERY_EDIT_INTERVAL_MS: String(EDIT_MS),
      DELIVERY_GROUP_EDIT_INTERVAL_MS: String(GROUP_EDIT_MS),
    });
  }, 60_000);
  afterAll(() => system.stop());

  const telegramGroup = (text: string, user: number, chat: TelegramChat) => {
    const from = telegramUser({ id: 10_000 + user });
    return {
      platform: "telegram" as const,
      path: "/webhooks/telegram",
      ...telegramRequest(telegramTextUpdate({ text: `@${TELEGRAM_TEST_BOT_USERNAME} ${text}`, from, chat })),
      eventId: "",
      conversationKey: `telegram:${chat.id}`,
    };
  };

  it("telegram group: one message edited at the group rate, then the final HTML split at 4,096", async () => {
    const chat = groupChat();
    const answer = longMarkdown(14);
    // ~6 s of streaming: time for edits even when the message itself waits behind a "Starting your
    // switchboard…" notice (new messages in a group are 3 s apart).
    await system.post(telegramGroup(`drip 40 ${answer}`, 1, chat));
    await system.sim.waitFor(
      (sim) =>
        words(
          sim
            .messagesTo(chat.id)
            .map((m) => visibleTelegramText(m.text))
            .join(" "),
        ).length === words(answer).length,
      30_000,
      "the whole answer in the group",
    );
    // Only the answer's messages (not "Starting your switchboard…").
    const posted = system.sim.messagesTo(chat.id).filter((m) => /p\d+w\d+/.test(m.text));
    expect(posted.length).toBeGreaterThanOrEqual(2);
    // The first message is the one that was streamed into, edited along the way.
    expect(posted[0]?.edits).toBeGreaterThanOrEqual(1);
    for (const m of posted) {
      expect(m.parseMode).toBe("HTML");
      expect(visibleTelegramText(m.text).length).toBeLessThanOrEqual(4_096);
    }
    const all = posted.map((m) => m.text).join("\n");
    expect(all).toContain("<b>Plan</b> for &lt;main&gt; &amp; friends:");
    expect(all).toContain('<pre><code class="language-ts">const x = 1 &lt; 2 &amp;&amp; 3 &gt; 2;');
    expect(words(posted.map((m) => visibleTelegramText(m.text)).join(" "))).toEqual(words(answer));
    const live = system.sim
      .calls({ platform: "telegram" })
      .filter((c) => String(c.body.chat_id) === String(chat.id) && c.endpoint !== "sendChatAction");
    const streamed = live.slice(0, live.findIndex((c) => c.body.text === posted[0]?.text) + 1);
    for (const gap of gaps(streamed)) expect(gap).toBeGreaterThanOrEqual(GROUP_EDIT_MS);
  }, 60_000);

  it("telegram private chat: an animated draft, then one sendMessage with the answer", async () => {
    const answer = longMarkdown(3);
    await system.post(system.message("telegram", `drip 12 ${answer}`, 2));
    await system.sim.waitFor(
      (sim) => sim.messagesTo(10_002).some((m) => m.text.includes("p2w59")),
      30_000,
      "the answer in the private chat",
    );
    const drafts = [...system.sim.telegramDrafts(10_002).values()];
    expect(drafts).toHaveLength(1);
    expect(drafts[0]?.length).toBeGreaterThanOrEqual(2);
    const draftCalls = system.sim.calls({ endpoint: "sendMessageDraft" });
    for (const gap of gaps(draftCalls)) expect(gap).toBeGreaterThanOrEqual(EDIT_MS);
    const finals = system.sim.messagesTo(10_002).filter((m) => m.text.includes("p2w59"));
    expect(finals).toHaveLength(1);
    expect(words(visibleTelegramText(finals[0]?.text ?? ""))).toEqual(words(answer));
  }, 60_000);

  it("discord: the deferred answer edited at the set rate, then split at 2,000 with code fences closed", async () => {
    const answer = longMarkdown(8);
    const req = system.message("discord", `drip 12 ${answer}`, 1);
    await system.post(req);
    const channel = req.conversationKey.replace("discord:", "");
    await system.sim.waitFor(
      (sim) =>
        words(
          sim
            .messagesTo(channel)
            .map((m) => m.text)
            .join(" "),
        ).length === words(answer).length,
      30_000,
      "the whole answer on Discord",
    );
    const posted = system.sim.messagesTo(channel).filter((m) => /p\d+w\d+/.test(m.text));
    expect(posted.length).toBeGreaterThanOrEqual(2);
    for (const m of posted) {
      expect(m.text.length).toBeLessThanOrEqual(2_000);
      expect((m.text.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(posted[0]?.edits).toBeGreaterThanOrEqual(2);
    expect(words(posted.map((m) => m.text).join(" "))).toEqual(words(answer));
    // The answer's own edits (not a "Starting your switchboard…" notice in the same message before it, which
    // is a send, paced as one), the final one aside.
    const edits = system.sim
      .calls({ endpoint: "editOriginal" })
      .filter((c) => /p\d+w\d+/.test(String(c.body.content ?? "")));
    expect(edits.length).toBeGreaterThanOrEqual(3);
    for (const gap of gaps(edits.slice(0, -1))) {
      expect(gap).toBeGreaterThanOrEqual(EDIT_MS);
    }
  }, 60_000);

  it("slack: a native stream in the thread, finished by stopStream with the rest", async () => {
    const answer = longMarkdown(3);
    const req = system.message("slack", `drip 10 ${answer}`, 1);
    await system.post(req);
    await system.sim.waitFor(
      (sim) => sim.calls({ endpoint: "chat.stopStream", status: 200 }).length > 0,
      30_000,
      "the stream to stop",
    );
    const streams = system.sim.messages({ platform: "slack" }).filter((m) => m.via === "chat.startStream");
    expect(streams).toHaveLength(1);
    expect(streams[0]?.text.trim()).toBe(answer.trim());
    expect(streams[0]?.streaming).toBe(false);
    const calls = system.sim
      .calls({ platform: "slack" })
      .filter((c) => ["chat.startStream", "chat.appendStream"].includes(c.endpoint));
    expect(calls[0]?.body).toMatchObject({ recipient_user_id: "U1" });
    for (const gap of gaps(calls)) expect(gap).toBeGreaterThanOrEqual(GROUP_EDIT_MS);
  }, 60_000);

  it("line: the loading animation while the agent works, then one reply", async () => {
    await system.post(system.message("line", "drip 6 one two three four five six seven", 1));
    await system.waitForReply("line", "seven", 30_000);
    expect(system.sim.calls({ endpoint: "loading" }).length).toBeGreaterThanOrEqual(1);
    expect(system.replies("line").filter((t) => t.includes("seven"))).toHaveLength(1);
  }, 60_000);

  it("a 429 delays the reply as long as asked, and loses nothing", async () => {
    system.sim.fail({ platform: "telegram", endpoint: "sendMessage", status: 429, retryAfterSeconds: 2 });
    await system.post(system.message("telegram", "echo patience please", 3));
    await system.waitForReply("telegram", "echo: patience please", 30_000);
    // The first message to that chat (whichever it was) met the 429; it went out again 2 s later, once.
    const calls = system.sim.calls({ endpoint: "sendMessage" }).filter((c) => c.body.chat_id === 10_003);
    const [limited, retried] = calls;
    expect(limited?.status).toBe(429);
    expect(retried?.body.text).toBe(limited?.body.text);
    expect(retried?.status).toBe(200);
    expect((retried?.receivedAt ?? 0) - (limited?.receivedAt ?? 0)).toBeGreaterThanOrEqual(2_000);
    const texts = system.sim.messagesTo(10_003).map((m) => m.text);
    expect(new Set(texts).size).toBe(texts.length);
    expect(texts.filter((t) => t.includes("echo: patience please"))).toHaveLength(1);
  }, 40_000);
});

describe("approval buttons and crashes", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start({
      DELIVERY_EDIT_INTERVAL_MS: String(EDIT_MS),
      DELIVERY_GROUP_EDIT_INTERVAL_MS: String(GROUP_EDIT_MS),
    });
  }, 60_000);
  afterAll(() => system.stop());

  it("telegram: buttons answer a permission request; a stranger's and a second tap change nothing", async () => {
    const chat = groupChat();
    expect(
      (await runCli(["projects", "create", "buttons", "--owner", "telegram:10003"], system.env)).code,
    ).toBe(0);
    await runCli(["projects", "bind", "buttons", `telegram:${chat.id}`], system.env);
    const owner = telegramUser({ id: 10_003 });
    const stranger = telegramUser({ id: 10_002 });
    const say = (text: string) =>
      system.post({
        platform: "telegram",
        path: "/webhooks/telegram",
        ...telegramRequest(
          telegramTextUpdate({ text: `@${TELEGRAM_TEST_BOT_USERNAME} ${text}`, from: owner, chat }),
        ),
        eventId: "",
        conversationKey: "",
      });
    const tap = (from: typeof owner, data: string, messageId: number) =>
      system.post({
        platform: "telegram",
        path: "/webhooks/telegram",
        ...telegramRequest(telegramCallbackUpdate(data, { from, chat, message_id: messageId })),
        eventId: "",
        conversationKey: "",
      });
    await say("permission ls -la");
    await system.sim.waitFor(
      (sim) => sim.messagesTo(chat.id).some((m) => m.buttons.length === 3),
      30_000,
      "a permission prompt with buttons",
    );
    const prompt = system.sim.messagesTo(chat.id).find((m) => m.buttons.length === 3);
    expect(prompt?.buttons.map((b) => b.label)).toEqual(["Allow once", "Allow in this chat", "Deny"]);
    const [allow, , deny] = prompt?.buttons ?? [];
    const id = Number(prompt?.id);

    await tap(stranger, allow?.value ?? "", id);
    await system.sim.waitFor((sim) => sim.callbackAnswers().length === 1, 20_000, "the stranger's answer");
    expect(system.sim.callbackAnswers()[0]?.text).toMatch(/Only the person who asked/);
    expect(system.replies("telegram").join("\n")).not.toMatch(/ran ls -la/);

    await tap(owner, allow?.value ?? "", id);
    await system.waitForReply("telegram", "ran ls -la", 30_000);
    expect(system.replies("telegram").join("\n")).toMatch(/Approved by/);

    await tap(owner, deny?.value ?? "", id);
    await system.sim.waitFor((sim) => sim.callbackAnswers().length === 3, 20_000, "the second tap's answer");
    expect(system.sim.callbackAnswers()[2]?.text).toMatch(/Already answered: approved/);
    expect(system.replies("telegram").join("\n")).not.toMatch(/Denied by/);
    await runCli(["projects", "unbind", `telegram:${chat.id}`], system.env);
  }, 90_000);

  it("a kill while streaming leaves one complete final message", async () => {
    const chat = groupChat();
    const answer = longMarkdown(4);
    const from = telegramUser({ id: 10_001 });
    await system.post({
      platform: "telegram",
      path: "/webhooks/telegram",
      ...telegramRequest(
        telegramTextUpdate({ text: `@${TELEGRAM_TEST_BOT_USERNAME} drip 24 ${answer}`, from, chat }),
      ),
      eventId: "",
      conversationKey: "",
    });
    await system.sim.waitFor(
      (sim) => sim.messagesTo(chat.id).some((m) => m.edits >= 1),
      30_000,
      "the streamed message to be edited",
    );
    await system.crashAndRestart();
    await system.sim.waitFor(
      (sim) => sim.messagesTo(chat.id).some((m) => visibleTelegramText(m.text).includes("p3w59")),
      40_000,
      "the final answer",
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const posted = system.sim.messagesTo(chat.id).filter((m) => /p\d+w\d+/.test(m.text));
    expect(posted).toHaveLength(1);
    expect(words(visibleTelegramText(posted[0]?.text ?? ""))).toEqual(words(answer));
  }, 90_000);
});
