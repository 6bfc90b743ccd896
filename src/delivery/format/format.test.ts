import { describe, expect, it } from "vitest";
import { telegramVisible } from "../../../test/support/fakes/platform-simulator/platforms.ts";
import { RateGovernor } from "../governor.ts";
import { LineSender } from "../senders/line.ts";
import { markdownToTelegramHtml, telegramChunks, visibleTelegramText } from "./telegram-html.ts";

describe("Telegram HTML", () => {
  it("escapes what the agent wrote and converts its Markdown to tags Telegram parses", () => {
    const html = markdownToTelegramHtml(
      "# Title\n**bold** and _it_ with <b>not a tag</b> & `a < b`\n- item [link](https://x.example/?a=1&b=2)\n```js\nif (a < b && c) {}\n```\n> quoted",
    );
    expect(html).toBe(
      [
        "<b>Title</b>",
        "<b>bold</b> and <i>it</i> with &lt;b&gt;not a tag&lt;/b&gt; &amp; <code>a &lt; b</code>",
        '• item <a href="https://x.example/?a=1&amp;b=2">link</a>',
        '<pre><code class="language-js">if (a &lt; b &amp;&amp; c) {}</code></pre>',
        "<blockquote>quoted</blockquote>",
      ].join("\n"),
    );
    expect(telegramVisible(html)).toBeDefined();
  });

  it("splits at 4,096 visible characters, every chunk well-formed, nothing lost", () => {
    const md = Array.from({ length: 40 }, (_, i) => `**p${i}** ${"word & <x> ".repeat(40)}`).join("\n\n");
    const chunks = telegramChunks(`${md}\n\`\`\`\n${"code < line\n".repeat(400)}\`\`\``, 4_096);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      const visible = telegramVisible(c);
      expect(visible).toBeDefined();
      expect(visible?.length).toBeLessThanOrEqual(4_096);
    }
    expect(chunks.map(visibleTelegramText).join(" ").match(/p\d+/g)).toHaveLength(40);
  });
});

describe("LINE splitting", () => {
  it("cuts at 5,000 UTF-16 units and puts at most 5 messages in a call", () => {
    const sender = new LineSender({ accessToken: "t", apiBaseUrl: "http://127.0.0.1:9" });
    const text = Array.from({ length: 14 }, (_, i) => `${i} ${"😀".repeat(2_400)}`).join("\n\n");
    const calls = sender.chunk(text);
    const messages = calls.map((c) => c.split("\u001e"));
    expect(messages.every((m) => m.length <= 5)).toBe(true);
    expect(messages.flat().every((m) => m.length <= 5_000)).toBe(true);
    expect(messages.flat().join("").match(/😀/gu)?.length).toBe(14 * 2_400);
  });
});

describe("RateGovernor", () => {
  it("holds a chat while a call is in flight, then for the interval; a 429 closes it until retry_after", async () => {
    let now = 1_000;
    const governor = new RateGovernor({ editIntervalMs: 500, botPerSecond: 1_000 }, () => now);
    const paces = governor.pacesFor("telegram", { platform: "telegram", chatId: 5 }, "edit");
    const release = await governor.acquire(paces);
    expect(governor.freeAt("chat:telegram:5")).toBe(Number.POSITIVE_INFINITY);
    now = 1_200;
    release();
    expect(governor.freeAt("chat:telegram:5")).toBe(1_700);
    governor.penalize("chat:telegram:5", 9_000);
    expect(governor.freeAt("chat:telegram:5")).toBe(9_000);
    // Other chats are not held.
    const other = await governor.acquire(
      governor.pacesFor("telegram", { platform: "telegram", chatId: 6 }, "edit"),
    );
    other();
  });
});

describe("RateGovernor waiters", () => {
  it("a caller behind a call in flight starts as soon as that call is released, without polling", async () => {
    const governor = new RateGovernor({ editIntervalMs: 0, botPerSecond: 1_000 });
    const paces = governor.pacesFor("discord", { platform: "discord", channelId: "1" }, "edit");
    const first = await governor.acquire(paces);
    let started = 0;
    const second = governor.acquire(paces).then((release) => {
      started = Date.now();
      return release;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toBe(0);
    const released = Date.now();
    first();
    (await second)();
    expect(started - released).toBeLessThan(15);
  });

  it("gives up waiting when its signal aborts", async () => {
    const governor = new RateGovernor({});
    const paces = governor.pacesFor("slack", { platform: "slack", teamId: "T", channel: "C1" }, "edit");
    const held = await governor.acquire(paces);
    const controller = new AbortController();
    const waiting = governor.acquire(paces, controller.signal);
    controller.abort(new Error("closed"));
    await expect(waiting).rejects.toThrow("closed");
    held();
  });
});
