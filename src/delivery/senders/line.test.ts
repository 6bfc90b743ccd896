import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import { DeliveryError } from "../errors.ts";
import { longText, outbound, sendAll, words } from "../testing/messages.ts";
import { LINE_TEXT_LIMIT, LineSender } from "./line.ts";
import { uuidFromKey } from "./shared.ts";

describe("LineSender against the simulator", () => {
  let sim: PlatformSimulator;
  let sender: LineSender;
  const to = "U4af4980629";

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    sender = new LineSender({ accessToken: "line-token", apiBaseUrl: sim.baseUrls().LINE_API_BASE_URL });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it("answers a fresh event with its reply token, five messages per call, then pushes the rest", async () => {
    const text = longText(8, 4_000);
    const message = outbound({ platform: "line", to, replyToken: sim.issueLineReplyToken(to) }, text);
    const chunks = await sendAll(sender, message);
    expect(chunks).toHaveLength(2);

    const calls = sim.calls({ platform: "line" });
    expect(calls.map((c) => c.endpoint)).toEqual(["reply", "push"]);
    expect(calls[0]?.headers["x-line-retry-key"]).toBeUndefined();
    expect(calls[1]?.headers["x-line-retry-key"]).toBe(uuidFromKey(`${message.idempotencyKey}#1`));
    expect(calls[1]?.headers.authorization).toBe("Bearer line-token");

    // LINE bots cannot send files: a long answer ends with a note saying so much.
    const posted = sim.messagesTo(to);
    expect(posted).toHaveLength(9);
    expect(posted.slice(0, 5).every((m) => m.via === "reply")).toBe(true);
    for (const m of posted) expect(m.text.length).toBeLessThanOrEqual(LINE_TEXT_LIMIT);
    expect(
      words(
        posted
          .slice(0, 8)
          .map((m) => m.text)
          .join("\n"),
      ),
    ).toEqual(words(text));
    expect(posted[8]?.text).toMatch(/^\(End of a long answer: [\d,]+ characters in 8 messages\.\)$/);
  });

  it("counts the limit in UTF-16 units", async () => {
    const text = "🍣".repeat(4_000); // 8,000 units
    await sendAll(sender, outbound({ platform: "line", to }, text));
    const posted = sim.messagesTo(to);
    expect(posted.map((m) => m.text.length)).toEqual([5_000, 3_000]);
  });

  it("pushes when the event is older than 20 s or the reply token may have been used", async () => {
    const stale = outbound({ platform: "line", to, replyToken: sim.issueLineReplyToken(to) }, "late answer", {
      inboundReceivedAt: Date.now() - 21_000,
    });
    await sendAll(sender, stale);
    const retried = outbound({ platform: "line", to, replyToken: sim.issueLineReplyToken(to) }, "retry");
    await sendAll(sender, retried, 1);
    expect(sim.calls({ platform: "line" }).map((c) => c.endpoint)).toEqual(["push", "push"]);
    expect(sim.messagesTo(to).map((m) => m.text)).toEqual(["late answer", "retry"]);
  });

  it("falls back to push when LINE refuses the reply token", async () => {
    const token = sim.issueLineReplyToken(to);
    await sendAll(sender, outbound({ platform: "line", to, replyToken: token }, "first"));
    await sendAll(sender, outbound({ platform: "line", to, replyToken: token }, "second"));
    expect(sim.calls({ platform: "line" }).map((c) => `${c.endpoint} ${c.status}`)).toEqual([
      "reply 200",
      "reply 400",
      "push 200",
    ]);
    expect(sim.messagesTo(to).map((m) => m.text)).toEqual(["first", "second"]);
  });

  it("treats a resend LINE already accepted (409 on the retry key) as sent", async () => {
    const message = outbound({ platform: "line", to }, "only once");
    await sendAll(sender, message);
    await sendAll(sender, message, 1);
    expect(sim.calls({ platform: "line" }).map((c) => c.status)).toEqual([200, 409]);
    expect(sim.messagesTo(to)).toHaveLength(1);
  });

  it("sends plain text", async () => {
    await sendAll(
      sender,
      outbound({ platform: "line", to }, "## Done\n**All** tests pass: see [CI](https://ci.example)"),
    );
    expect(sim.messagesTo(to)[0]?.text).toBe("Done\nAll tests pass: see CI (https://ci.example)");
  });

  it("classifies failures", async () => {
    const message = outbound({ platform: "line", to }, "x");
    const failure = async () => {
      const error = await sendAll(sender, message).then(
        () => undefined,
        (e: unknown) => e,
      );
      return error instanceof DeliveryError ? [error.kind, error.status, error.retryAfterMs] : error;
    };
    sim.fail({ platform: "line", status: 429, retryAfterSeconds: 2 });
    expect(await failure()).toEqual(["rate_limited", 429, 2_000]);
    sim.fail({ platform: "line", status: 500 });
    expect(await failure()).toEqual(["transient", 500, undefined]);
    sim.fail({ platform: "line", status: 403 });
    expect(await failure()).toEqual(["permanent", 403, undefined]);
    expect(sim.messagesTo(to)).toHaveLength(0);
  });
});
