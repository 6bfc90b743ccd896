import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eSystem } from "./support/e2e.ts";

/** The bytes the fake CLI's `make-file <name> <kb>` writes: byte i is i % 251. */
function made(kb: number): Buffer {
  const bytes = Buffer.alloc(Math.round(kb * 1024));
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  return bytes;
}
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/**
 * Files the agent makes reach the chat (issue 6), end to end from a signed webhook: the fake CLI writes a
 * file into `<workspace>/outbox/`, the daemon reports it on `turn_finished`, the router reads its bytes
 * over the bridge and the outbox sends it after the answer, as a file where bots can upload files and as
 * a note where they cannot (LINE). Sent once, even across a restart; refused with a note when too large.
 */
describe("files the agent makes", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start();
  }, 60_000);
  afterAll(() => system.stop());

  it.each(["telegram", "slack", "discord"] as const)(
    "%s: one file, byte for byte, after the answer",
    async (platform) => {
      const name = `report-${platform}.bin`;
      await system.post(system.message(platform, `make-file ${name} 50`, 3));
      await system.sim.waitFor(
        (sim) => sim.files({ platform }).some((f) => f.name === name),
        40_000,
        `the ${platform} file (server: ${system.server.output().slice(-1500)})`,
      );
      await system.waitForReply(platform, `made ${name}`);
      await new Promise((r) => setTimeout(r, 500)); // anything sent twice would show up by now
      const files = system.sim.files({ platform }).filter((f) => f.name === name);
      expect(files).toHaveLength(1);
      expect(files[0]?.size).toBe(50 * 1024);
      expect(files[0]?.sha256).toBe(sha256(made(50)));
    },
    60_000,
  );

  it("line: bots cannot send files, so a note names it", async () => {
    const req = system.message("line", "make-file chart.png 2", 3);
    const to = req.conversationKey.split(":").at(-1) ?? "";
    await system.post(req);
    await system.sim.waitFor(
      (sim) => sim.messagesTo(to, "line").some((m) => m.text.includes("chart.png (2 KB)")),
      40_000,
      `the LINE note (server: ${system.server.output().slice(-1500)})`,
    );
    const texts = system.sim.messagesTo(to, "line").map((m) => m.text);
    expect(texts.some((t) => t.includes("made chart.png"))).toBe(true);
    expect(texts.find((t) => t.includes("chart.png (2 KB)"))).toMatch(/cannot send files/);
    expect(system.sim.files({ platform: "line" })).toHaveLength(0);
  }, 60_000);

  it("telegram: a file is sent once, even after the server restarts and the chat goes on", async () => {
    await system.post(system.message("telegram", "make-file once.txt 3", 3));
    await system.sim.waitFor(
      (sim) => sim.files({ platform: "telegram" }).some((f) => f.name === "once.txt"),
      40_000,
      "the file",
    );
    // Once the outbox has recorded it as sent (a crash between the upload and that record would resend it:
    // Telegram has no idempotency key), the server dies; the agent's event log may replay the turn's end.
    await new Promise((r) => setTimeout(r, 1_500));
    await system.crashAndRestart();
    await system.post(system.message("telegram", "echo after the restart", 3));
    await system.waitForReply("telegram", "echo: after the restart", 40_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(system.sim.files({ platform: "telegram" }).filter((f) => f.name === "once.txt")).toHaveLength(1);
  }, 90_000);

  it("telegram: a file over 20 MB is not sent; a note says so", async () => {
    await system.post(system.message("telegram", "make-file huge.bin 21000", 3));
    await system.waitForReply("telegram", "huge.bin (20.5 MB) was not sent", 40_000);
    const note = system.replies("telegram").find((t) => t.includes("huge.bin (20.5 MB)")) ?? "";
    expect(note).toMatch(/larger than the 20\.0 MB limit/);
    expect(system.sim.files({ platform: "telegram" }).filter((f) => f.name === "huge.bin")).toHaveLength(0);
  }, 60_000);
});
