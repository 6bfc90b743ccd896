import { GatewayIntentBits } from "discord-api-types/v10";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DISCORD_TEST_APP_ID, FakeDiscordGateway } from "../../../test/support/fakes/discord-gateway.ts";
import { waitFor } from "../../../test/support/fakes/http.ts";
import {
  capturingLogger,
  type InboxHarness,
  openInboxHarness,
  texts,
} from "../../../test/support/fakes/inbox-harness.ts";
import type { Inbox } from "../../inbox/port.ts";
import { type DiscordGatewayOptions, DiscordGatewayTransport, discordSessionKey } from "./discord-gateway.ts";

const FAST = { backoff: { initialMs: 20, maxMs: 200 } };

describe("Discord Gateway", () => {
  let fake: FakeDiscordGateway;
  let harness: InboxHarness;
  const running: DiscordGatewayTransport[] = [];

  beforeEach(async () => {
    fake = await FakeDiscordGateway.start();
    harness = await openInboxHarness();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
    await fake.close();
    await harness.close();
  });

  function transport(overrides: Partial<DiscordGatewayOptions> = {}): DiscordGatewayTransport {
    const t = new DiscordGatewayTransport({
      botToken: fake.token,
      apiUrl: fake.apiUrl,
      applicationId: DISCORD_TEST_APP_ID,
      inbox: harness.inbox,
      state: harness.opened.store.transportState,
      logger: capturingLogger().logger,
      ...FAST,
      ...overrides,
    });
    running.push(t);
    return t;
  }

  async function drainUntil(count: number): Promise<void> {
    await waitFor(async () => {
      await harness.drain();
      return harness.drained.length >= count;
    }, `${count} events in the inbox`);
  }

  const cursor = async (): Promise<number | undefined> =>
    (await harness.opened.store.transportState.get<{ sequence: number }>(discordSessionKey(0)))?.sequence;

  it("identifies without compression and stores messages normalised and in order", async () => {
    await transport().start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    const first = fake.messageCreate("one");
    fake.messageCreate("two");
    fake.dispatch("TYPING_START", { channel_id: "1300000000000000001" });
    fake.messageCreate("bot chatter", {
      author: { id: "1500000000000000001", username: "other", bot: true, discriminator: "0" },
    });
    const last = fake.messageCreate("three");
    await drainUntil(3);
    await waitFor(async () => (await cursor()) === last.seq, "the cursor at the last message");

    expect(texts(harness.drained)).toEqual(["one", "two", "three"]);
    expect(harness.drained[0]).toMatchObject({
      platform: "discord",
      eventId: first.id,
      conversation: { key: "discord:1300000000000000001", kind: "dm" },
      sender: { platformUserId: "1400000000000000001", displayName: "Mei" },
      reply: { platform: "discord", channelId: "1300000000000000001", messageId: first.id },
    });
    expect(fake.connections[0]).toEqual({ path: "/gateway", query: { v: "10", encoding: "json" } });
    expect(fake.identifies).toHaveLength(1);
    expect(fake.identifies[0]?.compress).toBe(false);
    expect(fake.identifies[0]?.intents).toBe(
      GatewayIntentBits.Guilds |
        GatewayIntentBits.GuildMessages |
        GatewayIntentBits.DirectMessages |
        GatewayIntentBits.MessageContent,
    );
  });

  it("resumes after op 7 and after a dropped socket; nothing lost, nothing doubled", async () => {
    await transport().start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    fake.messageCreate("m1");
    fake.messageCreate("m2");
    fake.sendReconnect();
    fake.messageCreate("m3"); // sent while the client reconnects: replayed on RESUME
    // Generous deadlines: @discordjs/ws waits before reconnecting, longer on a busy machine.
    await waitFor(() => fake.resumes.length === 1 && fake.openSockets === 1, "a RESUME after op 7", 30_000);
    fake.messageCreate("m4");
    await drainUntil(4);

    fake.dropConnections();
    fake.messageCreate("m5");
    await waitFor(() => fake.resumes.length === 2, "a RESUME after the drop", 30_000);
    fake.messageCreate("m6");
    await drainUntil(6);
    await new Promise((r) => setTimeout(r, 100));
    await harness.drain();

    expect(texts(harness.drained)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(fake.identifies).toHaveLength(1);
    expect(fake.connections.slice(1).every((c) => c.path === "/resume")).toBe(true);
  });

  it("a restarted process RESUMEs from the stored cursor and gets what it missed, once", async () => {
    const a = transport();
    await a.start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    fake.messageCreate("before 1");
    const stored = fake.messageCreate("before 2");
    await drainUntil(2);
    await waitFor(async () => (await cursor()) === stored.seq, "the cursor");
    await a.stop();
    expect(fake.clientCloses).not.toContain(1000); // the session stays resumable

    fake.messageCreate("while down 1");
    fake.messageCreate("while down 2");
    const restarted = await harness.reopen();
    harness = restarted;
    const b = transport({ inbox: restarted.inbox, state: restarted.opened.store.transportState });
    await b.start();
    await waitFor(() => fake.resumes.length === 1, "a RESUME");
    expect(fake.resumes[0]).toEqual({ sessionId: fake.sessionId, seq: stored.seq });
    fake.messageCreate("after");
    await drainUntil(3);
    expect(texts(harness.drained)).toEqual(["while down 1", "while down 2", "after"]);
    expect(fake.identifies).toHaveLength(1);
  });

  it("when enqueue fails, the cursor stays and a forced RESUME replays the message; stored exactly once", async () => {
    const broken = await harness.brokenInbox();
    let failing = false;
    const switchable: Pick<Inbox, "enqueue"> = {
      enqueue: (events) => (failing ? broken : harness.inbox).enqueue(events),
    };
    const { logger, lines } = capturingLogger();
    await transport({ inbox: switchable, logger }).start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    const good = fake.messageCreate("stored");
    await drainUntil(1);
    await waitFor(async () => (await cursor()) === good.seq, "the cursor");

    failing = true;
    fake.messageCreate("failed once");
    fake.messageCreate("behind it");
    await waitFor(() => fake.resumes.length >= 2, "two RESUMEs while the inbox fails");
    expect(fake.resumes.every((r) => r.seq === good.seq)).toBe(true);
    expect(await cursor()).toBe(good.seq);
    expect(lines.some((l) => String(l.msg).includes("resuming from the last stored one"))).toBe(true);

    failing = false;
    await drainUntil(3);
    fake.messageCreate("later");
    await drainUntil(4);
    await new Promise((r) => setTimeout(r, 100));
    await harness.drain();
    expect(texts(harness.drained)).toEqual(["stored", "failed once", "behind it", "later"]);
    expect(fake.identifies).toHaveLength(1);
  });

  it("a process that stored nothing before it died replays from its old cursor", async () => {
    // A: the inbox is down from the start; it receives messages but must not move the stored cursor.
    const a = transport({ inbox: await harness.brokenInbox() });
    await a.start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    fake.messageCreate("x");
    fake.messageCreate("y");
    await waitFor(() => fake.resumes.length >= 1, "A to resume after the failure");
    await a.stop();
    expect(await cursor()).toBe(1); // READY's sequence

    const b = transport();
    await b.start();
    await drainUntil(2);
    expect(texts(harness.drained)).toEqual(["x", "y"]);
  });

  it("identifies anew when the session is invalidated", async () => {
    await transport().start();
    await waitFor(() => fake.sessionId !== undefined, "READY");
    const firstSession = fake.sessionId;
    fake.messageCreate("old session");
    await drainUntil(1);
    fake.invalidateSession();
    await waitFor(() => fake.identifies.length === 2, "a second IDENTIFY");
    expect(fake.sessionId).not.toBe(firstSession);
    fake.messageCreate("new session");
    await drainUntil(2);
    await waitFor(async () => (await cursor()) === fake.seq, "the cursor in the new session");
    expect(texts(harness.drained)).toEqual(["old session", "new session"]);
  });

  it("explains a rejected token and gives up (the REST client forgets a refused token)", async () => {
    const { logger, lines } = capturingLogger();
    await transport({ logger, botToken: "wrong-token.wrong-token.0123456789" }).start();
    await waitFor(
      () => lines.some((l) => String(l.msg).includes("Discord rejected the bot token")),
      "the log",
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.gatewayBotRequests).toBe(1);
    expect(lines.find((l) => String(l.msg).includes("rejected"))?.msg).toContain("check DISCORD_BOT_TOKEN");
    expect(JSON.stringify(lines)).not.toContain("wrong-token");
  });

  it("retries with capped backoff while Discord's API is unavailable", async () => {
    fake.available = false;
    const { logger, lines } = capturingLogger();
    await transport({ logger, backoff: { initialMs: 30, maxMs: 90 } }).start();
    await waitFor(() => lines.filter((l) => String(l.msg).includes("cannot connect")).length >= 4, "retries");
    const delays = lines
      .filter((l) => String(l.msg).includes("cannot connect"))
      .map((l) => Number(l.retryInMs));
    expect(delays.every((d) => d <= 90)).toBe(true);
    expect(Math.max(...delays)).toBeGreaterThan(60);
    fake.available = true;
    await waitFor(() => fake.sessionId !== undefined, "READY once the API is back");
    fake.messageCreate("finally");
    await drainUntil(1);
  });
});
