import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngressApp, type IngressApp } from "../../test/support/ingress-app.ts";
import { AUTH_HEADER, testPlatforms, WEBHOOK_PLATFORMS } from "../../test/support/traffic.ts";
import { discordPing, signedDiscordRequest } from "../../test/support/webhooks/discord.ts";
import { lineTextEvent, lineWebhookBody, signedLineRequest } from "../../test/support/webhooks/line.ts";
import {
  SLACK_TEST_BOT_USER_ID,
  signedSlackEvent,
  slackAppMentionTwin,
  slackMessageEvent,
  slackUrlVerification,
} from "../../test/support/webhooks/slack.ts";
import { MAX_WEBHOOK_BODY_BYTES } from "./routes.ts";

const traffic = testPlatforms();

function post(ingress: IngressApp, path: string, req: { headers: Record<string, string>; body: string }) {
  return ingress.app.request(path, { method: "POST", headers: req.headers, body: req.body });
}

describe("webhook routes over a real SQLite inbox", () => {
  let ingress: IngressApp;
  beforeAll(async () => {
    ingress = await createIngressApp(traffic.env);
  });
  afterAll(() => ingress.close());

  describe.each(WEBHOOK_PLATFORMS)("%s", (platform) => {
    it("stores a signed message before acknowledging, once however often it is delivered", async () => {
      const req = traffic.message(platform, "hello from the route test", 7);
      const first = await post(ingress, req.path, req);
      expect(first.status).toBe(200);
      // Durable before the 2xx: the item is there the moment the response is.
      expect(await ingress.storedEventIds()).toContain(req.eventId);
      const again = await post(ingress, req.path, req);
      expect(again.status).toBe(200);
      expect((await ingress.storedEventIds()).filter((id) => id === req.eventId)).toHaveLength(1);

      const stored = await ingress.handle.db
        .selectFrom("inbox_items")
        .select(["conversation_key", "payload"])
        .where("event_id", "=", req.eventId)
        .executeTakeFirstOrThrow();
      expect(stored.conversation_key).toBe(req.conversationKey);
      const event = JSON.parse(stored.payload);
      expect(event).toMatchObject({ platform, eventId: req.eventId, addressedToBot: true });
      expect(JSON.stringify(event.content)).toContain("hello from the route test");
    });

    it("refuses a missing or bad signature with 401 and stores nothing", async () => {
      const req = traffic.message(platform, "forged", 8);
      const header = AUTH_HEADER[platform];
      const before = await ingress.storedEventIds();
      const { [header]: signature = "", ...unsigned } = req.headers;
      const wrong = { ...req.headers, [header]: signature.replace(/.$/, (c) => (c === "0" ? "1" : "0")) };
      expect((await post(ingress, req.path, { headers: unsigned, body: req.body })).status).toBe(401);
      expect((await post(ingress, req.path, { headers: wrong, body: req.body })).status).toBe(401);
      if (platform !== "telegram") {
        // A MAC covers the body: the same signature over other bytes fails. (Telegram's secret is not a MAC.)
        const tampered = { headers: req.headers, body: req.body.replace("forged", "forgeD") };
        expect((await post(ingress, req.path, tampered)).status).toBe(401);
      }
      expect(await ingress.storedEventIds()).toEqual(before);
    });

    it("refuses a body over 1 MiB with 413 and stores nothing", async () => {
      const req = traffic.message(platform, "x".repeat(MAX_WEBHOOK_BODY_BYTES), 9);
      const before = await ingress.storedEventIds();
      const res = await post(ingress, req.path, req);
      expect(res.status).toBe(413);
      expect(await ingress.storedEventIds()).toEqual(before);
    });
  });

  it("answers 400 to a validly signed but malformed payload and stores nothing", async () => {
    const before = await ingress.storedEventIds();
    const res = await post(ingress, "/webhooks/line", signedLineRequest('{"destination":5,"events":"no"}'));
    expect(res.status).toBe(400);
    expect(await ingress.storedEventIds()).toEqual(before);
  });

  it("stores every event of a multi-event LINE request, in order", async () => {
    const events = [
      lineTextEvent({ text: "one" }),
      lineTextEvent({ text: "two" }),
      lineTextEvent({ text: "three" }),
    ];
    const res = await post(ingress, "/webhooks/line", signedLineRequest(lineWebhookBody(events)));
    expect(res.status).toBe(200);
    const stored = await ingress.storedEventIds();
    expect(stored.slice(-3)).toEqual(events.map((e) => String(e.webhookEventId)));
  });

  it("acknowledges LINE's empty verification request without storing", async () => {
    const before = await ingress.storedEventIds();
    const res = await post(ingress, "/webhooks/line", signedLineRequest(lineWebhookBody([])));
    expect(res.status).toBe(200);
    expect(await ingress.storedEventIds()).toEqual(before);
  });

  it("stores Slack's message and app_mention twins of one message once", async () => {
    const message = slackMessageEvent({ text: `<@${SLACK_TEST_BOT_USER_ID}> twins` });
    const twin = slackAppMentionTwin(message);
    expect((await post(ingress, "/webhooks/slack", signedSlackEvent(message))).status).toBe(200);
    expect((await post(ingress, "/webhooks/slack", signedSlackEvent(twin))).status).toBe(200);
    const id = `msg:${message.event.channel}:${message.event.ts}`;
    expect((await ingress.storedEventIds()).filter((e) => e === id)).toHaveLength(1);
  });

  it("answers Slack's url_verification with its challenge", async () => {
    const challenge = slackUrlVerification();
    const res = await post(ingress, "/webhooks/slack", signedSlackEvent(challenge));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: challenge.challenge });
  });

  it("answers Discord's PING with PONG and a slash command with a deferred response", async () => {
    const ping = await post(
      ingress,
      "/webhooks/discord",
      signedDiscordRequest(traffic.discordKeys, discordPing()),
    );
    expect(ping.status).toBe(200);
    expect(ping.headers.get("content-type")).toBe("application/json");
    expect(await ping.json()).toEqual({ type: 1 });
    const command = traffic.message("discord", "deploy please");
    const res = await post(ingress, command.path, command);
    expect(await res.json()).toEqual({ type: 5 });
  });
});

describe("webhook routes: enabling and failures", () => {
  it("answers 404 for a platform whose secret is not configured", async () => {
    const onlyLine = await createIngressApp({ LINE_CHANNEL_SECRET: traffic.env.LINE_CHANNEL_SECRET ?? "" });
    try {
      const req = traffic.message("slack", "hi");
      expect((await post(onlyLine, req.path, req)).status).toBe(404);
      expect((await post(onlyLine, "/webhooks/whatsapp", req)).status).toBe(404);
      const line = traffic.message("line", "hi");
      expect((await post(onlyLine, line.path, line)).status).toBe(200);
    } finally {
      await onlyLine.close();
    }
  });

  it("answers 503 (so the platform retries) when the inbox cannot commit, and 200 once it can", async () => {
    const ingress = await createIngressApp(traffic.env);
    try {
      const req = traffic.message("telegram", "store me later");
      await ingress.handle.db.schema.alterTable("inbox_items").renameTo("inbox_items_away").execute();
      const res = await post(ingress, req.path, req);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      await ingress.handle.db.schema.alterTable("inbox_items_away").renameTo("inbox_items").execute();
      expect((await post(ingress, req.path, req)).status).toBe(200);
      expect(await ingress.storedEventIds()).toEqual([req.eventId]);
    } finally {
      await ingress.close();
    }
  });
});
