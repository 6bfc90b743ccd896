import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PlatformSimulator } from "../../../test/support/fakes/platform-simulator.ts";
import { DeliveryError } from "../errors.ts";
import { longText, outbound, sendAll, words } from "../testing/messages.ts";
import { SLACK_CHUNK_LIMIT, SlackSender } from "./slack.ts";

describe("SlackSender against the simulator", () => {
  let sim: PlatformSimulator;
  let sender: SlackSender;
  const reply = { platform: "slack", teamId: "T1", channel: "C0123", threadTs: "1700000000.000100" } as const;

  beforeAll(async () => {
    sim = await PlatformSimulator.start();
    sender = new SlackSender({ botToken: "xoxb-test", apiUrl: sim.baseUrls().SLACK_API_URL });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it("posts a long reply in the thread, in order, in chunks of at most 3,500 characters", async () => {
    const text = longText(12, 900);
    const chunks = await sendAll(sender, outbound(reply, text));
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    const posted = sim.messagesTo("C0123", "slack");
    expect(posted).toHaveLength(chunks.length);
    for (const m of posted) {
      expect(m.text.length).toBeLessThanOrEqual(SLACK_CHUNK_LIMIT);
      expect(m.threadId).toBe(reply.threadTs);
    }
    expect(words(posted.map((m) => m.text).join(" "))).toEqual(words(text));
    expect(sim.calls({ endpoint: "chat.postMessage" })[0]?.headers.authorization).toBe("Bearer xoxb-test");
  });

  it("posts at top level without a thread, converting Markdown to mrkdwn", async () => {
    await sendAll(
      sender,
      outbound(
        { platform: "slack", teamId: "T1", channel: "D1" },
        "**Done**: <!here> see [PR](https://x.io/1)",
      ),
    );
    const [m] = sim.messagesTo("D1");
    expect(m?.threadId).toBeUndefined();
    expect(m?.text).toBe("*Done*: &lt;!here&gt; see <https://x.io/1|PR>");
  });

  it("does not retry on its own, and says how long a rate limit asks to wait", async () => {
    const failure = async () => {
      const error = await sendAll(sender, outbound(reply, "x")).then(
        () => undefined,
        (e: unknown) => e,
      );
      return error instanceof DeliveryError ? [error.kind, error.retryAfterMs] : error;
    };
    sim.fail({ platform: "slack", status: 429, retryAfterSeconds: 3 });
    expect(await failure()).toEqual(["rate_limited", 3_000]);
    sim.fail({ platform: "slack", status: 503 });
    expect(await failure()).toEqual(["transient", undefined]);
    sim.fail({ platform: "slack", status: 404, description: "channel_not_found" });
    expect(await failure()).toEqual(["permanent", undefined]);
    sim.fail({ platform: "slack", status: 500, body: { ok: false, error: "internal_error" } });
    expect(await failure()).toEqual(["transient", undefined]);
    expect(sim.calls({ platform: "slack" })).toHaveLength(4);
  });
});
