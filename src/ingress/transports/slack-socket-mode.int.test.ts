import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../test/support/fakes/http.ts";
import {
  capturingLogger,
  type InboxHarness,
  openInboxHarness,
  texts,
} from "../../../test/support/fakes/inbox-harness.ts";
import { FakeSlackSocketMode, slackMessagePayload } from "../../../test/support/fakes/slack-socket-mode.ts";
import type { Inbox } from "../../inbox/port.ts";
import { type SlackSocketModeOptions, SlackSocketModeTransport } from "./slack-socket-mode.ts";

const FAST = { backoff: { initialMs: 20, maxMs: 200 }, helloTimeoutMs: 5_000 };

describe("Slack Socket Mode", () => {
  let fake: FakeSlackSocketMode;
  let harness: InboxHarness;
  const running: SlackSocketModeTransport[] = [];

  beforeEach(async () => {
    fake = await FakeSlackSocketMode.start();
    harness = await openInboxHarness();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
    await fake.close();
    await harness.close();
  });

  function transport(overrides: Partial<SlackSocketModeOptions> = {}): SlackSocketModeTransport {
    const t = new SlackSocketModeTransport({
      appToken: fake.appToken,
      apiUrl: fake.apiUrl,
      inbox: harness.inbox,
      logger: capturingLogger().logger,
      ...FAST,
      ...overrides,
    });
    running.push(t);
    return t;
  }

  const acked = (id: string): boolean => fake.envelope(id)?.acked === true;

  async function drainUntil(count: number): Promise<void> {
    await waitFor(async () => {
      await harness.drain();
      return harness.drained.length >= count;
    }, `${count} events in the inbox`);
  }

  it("stores envelopes normalised and in order, and acknowledges each one", async () => {
    const ids = [
      fake.push("events_api", slackMessagePayload("one", { ts: "1700000001.000100" })),
      // No `event`: the SDK itself chokes on this frame; the transport logs it and carries on.
      fake.push("events_api", { type: "event_callback" }),
      fake.push("events_api", slackMessagePayload("two")),
      fake.push("slash_commands", {
        command: "/claude",
        text: "three",
        user_id: "U0MEI",
        channel_id: "D0TEST",
        team_id: "T0TEST",
        trigger_id: "1.2.abc",
        response_url: "https://hooks.slack.invalid/commands/1",
      }),
      fake.push("hello_unknown_type", {}),
    ];
    const { logger, lines } = capturingLogger();
    await transport({ logger }).start();
    const malformed = ids.splice(1, 1)[0] ?? "";
    await waitFor(() => ids.every(acked), "every other envelope acknowledged");
    expect(acked(malformed)).toBe(false);
    expect(lines.some((l) => String(l.msg).includes("could not read"))).toBe(true);
    await drainUntil(3);

    expect(texts(harness.drained)).toEqual(["one", "two", "[command]"]);
    expect(harness.drained[0]).toMatchObject({
      platform: "slack",
      eventId: "msg:D0TEST:1700000001.000100",
      conversation: { kind: "dm" },
      sender: { platformUserId: "U0MEI" },
      reply: { platform: "slack", teamId: "T0TEST", channel: "D0TEST" },
    });
    expect(harness.drained[2]?.content).toEqual({ type: "command", command: "claude", text: "three" });
    expect(fake.opens).toEqual([{ authorized: true }]);
  });

  it("reconnects after a disconnect frame and after a dropped socket; nothing lost, nothing doubled", async () => {
    await transport().start();
    const ids = [
      fake.push("events_api", slackMessagePayload("m1")),
      fake.push("events_api", slackMessagePayload("m2")),
    ];
    await waitFor(() => ids.every(acked), "m1, m2 acknowledged");

    fake.sendDisconnect();
    ids.push(fake.push("events_api", slackMessagePayload("m3")));
    await waitFor(() => fake.connections === 2 && fake.openSockets === 1, "a reconnect after `disconnect`");
    ids.push(fake.push("events_api", slackMessagePayload("m4")));
    await waitFor(() => ids.every(acked), "m3, m4 acknowledged");

    fake.dropConnections();
    ids.push(fake.push("events_api", slackMessagePayload("m5")));
    await waitFor(() => fake.connections === 3 && ids.every(acked), "a reconnect after the drop");
    await drainUntil(5);
    expect(texts(harness.drained)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
  });

  it("stores an envelope whose acknowledgement was lost only once when Slack sends it again", async () => {
    let entered = false;
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowInbox: Pick<Inbox, "enqueue"> = {
      async enqueue(events) {
        entered = true;
        await gate;
        return harness.inbox.enqueue(events);
      },
    };
    await transport({ inbox: slowInbox }).start();
    const id = fake.push("events_api", slackMessagePayload("ack lost"));
    await waitFor(() => entered, "the enqueue to begin");
    expect(acked(id)).toBe(false); // nothing is acknowledged before it is stored
    fake.dropConnections(); // the ack will have nowhere to go
    release();
    await waitFor(
      () => acked(id) && (fake.envelope(id)?.sends ?? 0) >= 2,
      "the re-sent envelope acknowledged",
    );
    await drainUntil(1);
    await new Promise((r) => setTimeout(r, 50));
    await harness.drain();
    expect(texts(harness.drained)).toEqual(["ack lost"]);
  });

  it("does not acknowledge what it could not store; Slack's retry is stored exactly once", async () => {
    const broken = await harness.brokenInbox();
    let failing = true;
    const switchable: Pick<Inbox, "enqueue"> = {
      enqueue: (events) => (failing ? broken : harness.inbox).enqueue(events),
    };
    const { logger, lines } = capturingLogger();
    await transport({ inbox: switchable, logger }).start();
    const id = fake.push("events_api", slackMessagePayload("retried"));
    await waitFor(() => lines.some((l) => String(l.msg).includes("not acknowledging it")), "the failure log");
    expect(acked(id)).toBe(false);
    expect(fake.acks).toEqual([]);

    failing = false;
    fake.resendUnacked();
    await waitFor(() => acked(id), "the retry acknowledged");
    expect(fake.envelope(id)?.retry_attempt).toBe(1);
    await drainUntil(1);
    expect(texts(harness.drained)).toEqual(["retried"]);
  });

  it("after a restart, envelopes the old process did not acknowledge reach the inbox exactly once", async () => {
    // Process A: the first envelope is stored but its ack is lost (A dies); the second cannot be stored.
    let stored = 0;
    const broken = await harness.brokenInbox();
    const flaky: Pick<Inbox, "enqueue"> = {
      async enqueue(events) {
        if (stored > 0) return broken.enqueue(events);
        const outcome = await harness.inbox.enqueue(events);
        stored += 1;
        fake.available = false; // A cannot come back…
        fake.dropConnections(); // …and its ack is lost
        return outcome;
      },
    };
    const a = transport({ inbox: flaky });
    await a.start();
    const first = fake.push("events_api", slackMessagePayload("stored, not acked"));
    await waitFor(() => stored === 1 && fake.openSockets === 0, "A to store and lose its socket");
    await a.stop();
    const second = fake.push("events_api", slackMessagePayload("never stored by A"));
    expect(fake.unacked()).toEqual([first, second]);

    fake.available = true;
    const b = transport();
    await b.start();
    await waitFor(() => acked(first) && acked(second), "B to acknowledge both");
    expect(fake.envelope(first)?.retry_attempt).toBe(1);
    expect(fake.connections).toBe(2);
    await drainUntil(2);
    await b.stop();
    await harness.drain();
    expect(texts(harness.drained)).toEqual(["stored, not acked", "never stored by A"]);
  });

  it("explains a rejected app token and retries with capped backoff", async () => {
    const { logger, lines } = capturingLogger();
    await transport({ logger, appToken: "xapp-1-wrong", backoff: { initialMs: 30, maxMs: 120 } }).start();
    await waitFor(() => fake.opens.length >= 4, "four attempts");
    const rejected = lines.filter((l) =>
      String(l.msg).includes("Slack rejected the app token (invalid_auth)"),
    );
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    expect(rejected[0]?.level).toBe(50);
    expect(fake.opens.every((o) => !o.authorized)).toBe(true);
    expect(JSON.stringify(lines)).not.toContain("xapp-1-wrong");
  });

  it("stop() closes the socket and is idempotent", async () => {
    const t = transport();
    await t.start();
    await waitFor(() => fake.openSockets === 1, "a connection");
    await t.stop();
    await waitFor(() => fake.openSockets === 0, "the socket closed");
    await t.stop();
    expect(fake.connections).toBe(1);
  });
});
