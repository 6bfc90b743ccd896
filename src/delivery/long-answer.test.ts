import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../test/support/fakes/platform-simulator.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import type { Platform } from "../store/port.ts";
import { OutboxDispatcher, type OutboxDispatcherOptions } from "./dispatcher.ts";
import { visibleTelegramText } from "./format/telegram-html.ts";
import { RateGovernor } from "./governor.ts";
import { headOf, planDelivery } from "./long-answer.ts";
import { createOutbox, type KyselyOutbox } from "./outbox.ts";
import type { OutboundMessage, PlatformSender } from "./port.ts";
import { createSenders } from "./senders/index.ts";
import { settled, simulatedPlatforms } from "./testing/harness.ts";
import { longText, outbound } from "./testing/messages.ts";
import { WebchatHub } from "./webchat-hub.ts";

describe("headOf", () => {
  it("cuts at a paragraph, line or word, and closes an open code fence", () => {
    const text = `${"a ".repeat(300)}\n\n${"b ".repeat(300)}`;
    expect(headOf(text, 800)).toBe("a ".repeat(300).trimEnd());
    expect(headOf("short", 800)).toBe("short");
    const fenced = headOf(`intro\n\`\`\`ts\n${"const x = 1;\n".repeat(100)}\`\`\``, 300);
    expect(fenced.endsWith("\n```")).toBe(true);
    expect(fenced.match(/```/g)).toHaveLength(2);
  });
});

describe("long answers through the dispatcher (SQLite, simulated platforms)", () => {
  let sim: PlatformSimulator;
  let dir: string;
  let opened: OpenedStore;
  let outbox: KyselyOutbox;
  let senders: Map<Platform, PlatformSender>;
  const running: OutboxDispatcher[] = [];

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    dir = await mkdtemp(path.join(tmpdir(), "cc-long-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
    outbox = createOutbox(opened.handle);
    senders = createSenders(simulatedPlatforms(sim.baseUrls()), new WebchatHub());
  });
  afterAll(async () => {
    await opened.store.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await opened.handle.db.deleteFrom("outbox").execute();
    sim.reset();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
  });

  const start = (options: Partial<OutboxDispatcherOptions> = {}) => {
    const dispatcher = new OutboxDispatcher({
      outbox,
      senders,
      pollIntervalMs: 20,
      backoff: () => 20,
      governor: new RateGovernor({ spaceSends: false }),
      ...options,
    });
    running.push(dispatcher);
    dispatcher.start();
    dispatcher.kick();
    return dispatcher;
  };
  const send = async (message: OutboundMessage, options: Partial<OutboxDispatcherOptions> = {}) => {
    await outbox.enqueue(message);
    start(options);
    expect(await settled(outbox, message.idempotencyKey)).toBe("sent");
  };
  const sender = (platform: Platform) => senders.get(platform) as PlatformSender;

  it("telegram: a head in the topic, then the whole answer as a document there", async () => {
    const text = longText(20, 1_000);
    const reply = { platform: "telegram", chatId: -100777, messageThreadId: 9, messageId: 5 } as const;
    await send(outbound(reply, text, { conversationKey: "telegram:-100777:9" }));
    const posted = sim.messagesTo(-100777, "telegram");
    expect(posted.map((m) => m.via)).toEqual(["sendMessage", "sendDocument"]);
    const head = visibleTelegramText(posted[0]?.text ?? "");
    expect(head.length).toBeLessThan(1_500);
    expect(text.startsWith(head.split("\n\n")[0] ?? "-")).toBe(true);
    expect(head).toMatch(/the whole answer is in answer\.md/);
    const [file] = sim.files({ platform: "telegram" });
    expect(file).toMatchObject({ conversation: "-100777", name: "answer.md", threadId: "9", content: text });
    expect(file?.size).toBe(Buffer.byteLength(text));
  });

  it("discord: a failed upload is retried alone; the head is not posted twice", async () => {
    const text = longText(12, 1_000);
    sim.fail({ platform: "discord", endpoint: "createMessage", status: 502, skip: 1 });
    await send(outbound({ platform: "discord", channelId: "555" }, text, { conversationKey: "discord:555" }));
    const posted = sim.messagesTo("555", "discord");
    expect(posted).toHaveLength(2);
    expect(posted[0]?.text).toMatch(/the whole answer is in answer\.md/);
    expect(posted[1]?.text).toBe("");
    expect(sim.files({ platform: "discord" }).map((f) => [f.name, f.content])).toEqual([["answer.md", text]]);
    const uploads = sim.calls({ platform: "discord", endpoint: "createMessage" });
    expect(uploads.map((c) => c.status)).toEqual([200, 502, 200]);
  });

  it("slack: the whole answer through files upload v2, in the thread", async () => {
    const text = longText(16, 1_000);
    const reply = {
      platform: "slack",
      teamId: "T1",
      channel: "C123",
      threadTs: "1700000000.000100",
    } as const;
    await send(outbound(reply, text, { conversationKey: "slack:T1:C123:1700000000.000100" }));
    const endpoints = sim.calls({ platform: "slack" }).map((c) => c.endpoint);
    expect(endpoints).toEqual([
      "chat.postMessage",
      "files.getUploadURLExternal",
      "upload",
      "files.completeUploadExternal",
    ]);
    expect(sim.files({ platform: "slack" })).toMatchObject([
      { conversation: "C123", name: "answer.md", threadId: "1700000000.000100", content: text },
    ]);
  });

  it("an agent's file: only the file where the platform takes files, else the text naming it", () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const file = {
      name: "x.bin",
      mediaType: "application/octet-stream",
      dataBase64: bytes.toString("base64"),
    };
    const telegram = { ...outbound({ platform: "telegram", chatId: 1 }, "📎 x.bin (5 B)"), extras: { file } };
    const plan = planDelivery(sender("telegram"), telegram);
    expect(plan.chunks).toEqual([]);
    expect(Buffer.from(plan.file?.content ?? "").equals(bytes)).toBe(true);
    const line = { ...outbound({ platform: "line", to: "U1" }, "📎 x.bin (5 B)"), extras: { file } };
    expect(planDelivery(sender("line"), line)).toEqual({ chunks: ["📎 x.bin (5 B)"] });
  });

  it("short answers, replies with buttons and notices stay text; 0 turns attaching off", async () => {
    const long = longText(20, 1_000);
    const reply = { platform: "telegram", chatId: 4242 } as const;
    const withButtons: OutboundMessage = {
      ...outbound(reply, long),
      extras: { buttons: [{ label: "Allow once", value: "approve:x" }] },
    };
    expect(planDelivery(sender("telegram"), withButtons).file).toBeUndefined();
    expect(planDelivery(sender("telegram"), outbound(reply, "short")).file).toBeUndefined();
    const notice = { ...outbound(reply, long), extras: { noticeFor: "1" } };
    expect(planDelivery(sender("telegram"), notice).file).toBeUndefined();
    // LINE and webchat have no files: always chunks.
    expect(planDelivery(sender("line"), outbound({ platform: "line", to: "U1" }, long)).file).toBeUndefined();

    const message = outbound(reply, long, { conversationKey: "telegram:4242" });
    await send(message, { attachAfterChunks: 0 });
    expect(sim.files()).toHaveLength(0);
    expect(sim.messagesTo(4242)).toHaveLength(sender("telegram").chunk(long).length);
  });
});
