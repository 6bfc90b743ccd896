import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eSystem } from "./support/e2e.ts";
import type { SimMessage } from "./support/fakes/platform-simulator.ts";
import type { WebhookPlatformName } from "./support/traffic.ts";

/**
 * Very long answers end to end (issue 6): a signed webhook asks the fake CLI for ~24 KB (`long 24`, numbered
 * lines L0001 … END). Where bots can upload files the chat gets a short head of the answer and the whole
 * text as one file (Telegram `sendDocument`, a Discord attachment, a Slack external upload); LINE, which
 * has no files for bots, gets the answer in chunks ending with a note that it was long.
 */
const KB = 24;

/** The lines of the fake's answer, in order. */
const numbered = (text: string) => text.split("\n").filter((l) => /^\s?(L\d{4}|END)/.test(l));

describe("very long answers", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start({ DELIVERY_EDIT_INTERVAL_MS: "400" });
  }, 60_000);
  afterAll(() => system.stop());

  /** Sends `long <KB>` as user 2 and waits for the answer's file on `platform`. */
  async function askLong(platform: Exclude<WebhookPlatformName, "line">): Promise<{
    fileText: string;
    messages: SimMessage[];
  }> {
    const before = system.sim.messages({ platform }).length;
    await system.post(system.message(platform, `long ${KB}`, 2));
    await system.sim.waitFor(
      (sim) => sim.files({ platform }).length === 1,
      40_000,
      `the ${platform} answer's file (server: ${system.server.output().slice(-1500)})`,
    );
    // Let anything sent after the file show up (nothing should).
    await new Promise((r) => setTimeout(r, 1_000));
    const [file] = system.sim.files({ platform });
    expect(file?.name).toBe("answer.md");
    expect(file?.size).toBe(Buffer.byteLength(file?.content ?? ""));
    const lines = numbered(file?.content ?? "");
    expect(lines[0]?.trim()).toMatch(/^L0001 /);
    expect(lines.at(-1)?.trim()).toBe("END");
    expect(lines.length).toBeGreaterThan((KB * 1024) / 60);
    expect(file?.content.length).toBeGreaterThanOrEqual(KB * 1024);
    return { fileText: file?.content ?? "", messages: system.sim.messages({ platform }).slice(before) };
  }

  const headOf = (messages: SimMessage[]) => messages.filter((m) => m.text.includes("L0001"));

  it("telegram: a short head, then the whole answer as a document", async () => {
    const { messages } = await askLong("telegram");
    const texts = messages.map((m) => m.text);
    expect(headOf(messages)).toHaveLength(1);
    const head = headOf(messages)[0]?.text ?? "";
    expect(head.length).toBeLessThan(2_000);
    expect(head).toMatch(/answer\.md/);
    expect(texts.join("\n")).not.toMatch(/\bEND\b/);
    expect(system.sim.calls({ platform: "telegram", endpoint: "sendDocument" })).toHaveLength(1);
  }, 60_000);

  it("discord: a short head, then the whole answer as an attachment", async () => {
    const { messages } = await askLong("discord");
    expect(headOf(messages)).toHaveLength(1);
    const head = headOf(messages)[0]?.text ?? "";
    expect(head.length).toBeLessThan(2_000);
    expect(head).toMatch(/answer\.md/);
    expect(messages.map((m) => m.text).join("\n")).not.toMatch(/\bEND\b/);
    const [file] = system.sim.files({ platform: "discord" });
    expect(file?.via).toBe("followup");
  }, 60_000);

  it("slack: the whole answer as a file in the thread (files upload v2)", async () => {
    const req = system.message("slack", `long ${KB}`, 2);
    const before = system.sim.messages({ platform: "slack" }).length;
    await system.post(req);
    await system.sim.waitFor(
      (sim) => sim.files({ platform: "slack" }).length === 1,
      40_000,
      `the slack answer's file (server: ${system.server.output().slice(-1500)})`,
    );
    const [file] = system.sim.files({ platform: "slack" });
    expect(file?.name).toBe("answer.md");
    expect(
      numbered(file?.content ?? "")
        .at(-1)
        ?.trim(),
    ).toBe("END");
    expect(file?.content.length).toBeGreaterThanOrEqual(KB * 1024);
    // In the answer's thread, through the three steps of an external upload.
    const ts = req.conversationKey.split(":").at(-1);
    expect(file?.threadId).toBe(ts);
    expect(
      system.sim
        .calls({ platform: "slack" })
        .map((c) => c.endpoint)
        .filter((e) => e.startsWith("files.") || e === "upload"),
    ).toEqual(["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]);
    // No wall of chunks: the stream showed the answer's start and ends saying where the rest is.
    const posted = system.sim.messages({ platform: "slack" }).slice(before);
    expect(posted.filter((m) => m.via === "chat.postMessage" && /L\d{4}/.test(m.text))).toHaveLength(0);
    const [stream] = posted.filter((m) => m.via === "chat.startStream");
    expect(stream?.streaming).toBe(false);
    expect(stream?.text).toMatch(/^L0001 /);
    expect(stream?.text).toMatch(/the whole answer is in answer\.md\._$/);
    expect(stream?.text).not.toMatch(/\bEND\b/);
  }, 60_000);

  it("line: no files for bots, so the answer comes in chunks ending with a note that it was long", async () => {
    const req = system.message("line", `long ${KB}`, 2);
    const to = req.conversationKey.split(":").at(-1) ?? "";
    await system.post(req);
    await system.sim.waitFor(
      (sim) => sim.messagesTo(to, "line").some((m) => /End of a long answer/.test(m.text)),
      40_000,
      "the LINE answer's closing note",
    );
    const texts = system.sim.messagesTo(to, "line").map((m) => m.text);
    expect(texts.at(-1)).toMatch(/^\(End of a long answer: [\d,]+ characters in \d+ messages\.\)$/);
    const lines = numbered(texts.join("\n"));
    expect(lines[0]).toMatch(/^L0001 /);
    expect(lines.at(-1)?.trim()).toBe("END");
    // At most 5 messages a call.
    for (const call of system.sim.calls({ platform: "line" }).filter((c) => c.endpoint !== "loading")) {
      expect((call.body.messages as unknown[]).length).toBeLessThanOrEqual(5);
    }
    expect(system.sim.files({ platform: "line" })).toHaveLength(0);
  }, 60_000);
});
