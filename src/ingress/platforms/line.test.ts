import { validateSignature } from "@line/bot-sdk";
import { describe, expect, it } from "vitest";
import { mustAccept, statusOf } from "../../../test/support/webhooks/common.ts";
import {
  LINE_TEST_BOT_USER_ID,
  LINE_TEST_SECRET,
  lineFuzzBodies,
  lineGroupSource,
  lineMessageEvent,
  lineOtherEvent,
  linePostbackEvent,
  lineRoomSource,
  lineSignature,
  lineTextEvent,
  lineUserSource,
  lineWebhookBody,
  signedLineRequest,
  webhookRequest,
} from "../../../test/support/webhooks/line.ts";
import type { InboundEvent } from "../event.ts";
import { createLineWebhook, parseLineBody } from "./line.ts";
import type { WebhookResult } from "./types.ts";

const webhook = createLineWebhook({ channelSecret: LINE_TEST_SECRET, botUserId: LINE_TEST_BOT_USER_ID });

async function send(payload: unknown, options: { signature?: string | null } = {}): Promise<WebhookResult> {
  return webhook.handle(webhookRequest(signedLineRequest(payload, options), 1_000));
}

async function events(payload: unknown): Promise<readonly InboundEvent[]> {
  const result = await send(payload);
  const { response, events: list } = mustAccept(result);
  expect(response).toEqual({ status: 200 });
  return list;
}

async function only(event: object): Promise<InboundEvent> {
  const [first, ...rest] = await events(lineWebhookBody([event]));
  expect(rest).toEqual([]);
  if (first === undefined) throw new Error("no event");
  return first;
}

describe("LINE signature", () => {
  // line/line-bot-sdk-nodejs test/validate-signature.spec.ts (reference §1.8).
  it("agrees with the SDK's published vectors", async () => {
    const body = JSON.stringify({ hello: "world" });
    expect(validateSignature(body, "test_secret", "t7Hn4ZDHqs6e+wdvI5TyQIvzie0DmMUmuXEBqyyE/tM=")).toBe(true);
    expect(validateSignature(body, "test_secret", "t7Hn4ZDHqs6e+wdvi5TyQivzie0DmMUmuXEBqyyE/tM=")).toBe(
      false,
    );
    expect(lineSignature(body, "test_secret")).toBe("t7Hn4ZDHqs6e+wdvI5TyQIvzie0DmMUmuXEBqyyE/tM=");

    const vectorHook = createLineWebhook({ channelSecret: "test_secret" });
    const good = await vectorHook.handle(
      webhookRequest({
        headers: { "x-line-signature": "t7Hn4ZDHqs6e+wdvI5TyQIvzie0DmMUmuXEBqyyE/tM=" },
        body,
      }),
    );
    expect(good).toMatchObject({ kind: "rejected", status: 400 }); // authentic, but not a webhook body
    const bad = await vectorHook.handle(
      webhookRequest({
        headers: { "x-line-signature": "t7Hn4ZDHqs6e+wdvi5TyQivzie0DmMUmuXEBqyyE/tM=" },
        body,
      }),
    );
    expect(bad).toEqual({ kind: "rejected", status: 401, reason: "bad signature" });
  });

  // line/line-bot-sdk-nodejs test/middleware.spec.ts: the signature is over the emoji's UTF-8 bytes.
  it("accepts the SDK's middleware vector with emoji and normalises it", async () => {
    const body =
      '{"events":[{"message":{"id":"test_event_message_id","text":"this is test message.😄😅😢😞😄😅😢😞","quoteToken":"test_quote_token","type":"text"},"replyToken":"test_reply_token","source":{"groupId":"test_group_id","type":"group"},"webhookEventId":"test_webhook_event_id","deliveryContext":{"isRedelivery":false},"timestamp":0,"mode":"active","type":"message"}],"destination":"Uaaaabbbbccccddddeeeeffff"}';
    const hook = createLineWebhook({ channelSecret: "test_channel_secret" });
    const headers = { "X-Line-Signature": "eRdWYcVCzZV3MVZ3M9/rHJCl/a3oSbsRb04cLovpVwM=" };
    const result = await hook.handle(webhookRequest({ headers, body }, 5));
    expect(result).toMatchObject({ kind: "accepted", response: { status: 200 } });
    expect(result.kind === "accepted" ? result.events : []).toEqual([
      {
        platform: "line",
        eventId: "test_webhook_event_id",
        conversation: { key: "line:Uaaaabbbbccccddddeeeeffff:group:test_group_id", kind: "group" },
        sender: { platformUserId: "" },
        occurredAt: 0,
        receivedAt: 5,
        addressedToBot: false,
        content: { type: "message", text: "this is test message.😄😅😢😞😄😅😢😞", attachments: [] },
        reply: {
          platform: "line",
          to: "test_group_id",
          replyToken: "test_reply_token",
          quoteToken: "test_quote_token",
        },
        raw: JSON.parse(body).events[0],
      },
    ]);

    // The same JSON with the emoji escaped has different bytes, so the signature no longer matches.
    const escaped = body.replace("😄", "\\ud83d\\ude04");
    expect(JSON.parse(escaped)).toEqual(JSON.parse(body));
    expect(await hook.handle(webhookRequest({ headers, body: escaped }))).toMatchObject({ status: 401 });
  });

  it("refuses a missing, empty or wrong signature before looking at the body", async () => {
    const payload = lineWebhookBody([lineTextEvent()]);
    expect(await send(payload, { signature: null })).toEqual({
      kind: "rejected",
      status: 401,
      reason: "missing x-line-signature",
    });
    expect(await send(payload, { signature: "" })).toMatchObject({ status: 401 });
    expect(await send(payload, { signature: lineSignature("other body") })).toMatchObject({ status: 401 });
    expect(await send("not json", { signature: "garbage" })).toMatchObject({ status: 401 });
  });

  it("refuses to be built without a channel secret", () => {
    expect(() => createLineWebhook({ channelSecret: "" })).toThrow(/secret/);
  });
});

describe("LINE events", () => {
  it("turns a 1:1 text message into a DM event", async () => {
    const source = lineUserSource();
    const raw = lineTextEvent({
      source,
      text: "  hi there ",
      timestamp: 1234,
      replyToken: "rt",
      quoteToken: "qt",
    });
    expect(await only(raw)).toEqual({
      platform: "line",
      eventId: raw.webhookEventId,
      conversation: { key: `line:${LINE_TEST_BOT_USER_ID}:user:${source.userId}`, kind: "dm" },
      sender: { platformUserId: source.userId },
      occurredAt: 1234,
      receivedAt: 1_000,
      addressedToBot: true,
      content: { type: "message", text: "hi there", attachments: [] },
      reply: { platform: "line", to: source.userId, replyToken: "rt", quoteToken: "qt" },
      raw,
    });
  });

  it("answers the console's Verify request (no events) with 200", async () => {
    expect(await send(lineWebhookBody([]))).toEqual({
      kind: "accepted",
      events: [],
      response: { status: 200 },
    });
  });

  it("keeps every event of a multi-event request, in order", async () => {
    const batch = [
      lineTextEvent({ text: "one" }),
      linePostbackEvent("two"),
      lineTextEvent({ text: "three" }),
    ];
    const got = await events(lineWebhookBody(batch));
    expect(got.map((e) => e.eventId)).toEqual(batch.map((e) => e.webhookEventId));
    expect(got.map((e) => e.content)).toEqual([
      { type: "message", text: "one", attachments: [] },
      { type: "action", actionId: "postback", value: "two" },
      { type: "message", text: "three", attachments: [] },
    ]);
  });

  it("skips standby events and ignores non-message types, unknown ones included", async () => {
    const kept = lineTextEvent();
    const got = await events(
      lineWebhookBody([
        lineTextEvent({ mode: "standby" }),
        lineOtherEvent("follow", { replyToken: "x", follow: { isUnblocked: false } }),
        lineOtherEvent("unsend", { unsend: { messageId: "1" } }),
        lineOtherEvent("somethingNew2030", { whatever: [1, 2] }),
        { type: "activated", webhookEventId: "01ACTIVATED", timestamp: 1, mode: "active" }, // module events have no source
        lineMessageEvent({ type: "hologram", shape: "cube" }),
        lineTextEvent({ source: { type: "space", spaceId: "S1" } as never }),
        kept,
      ]),
    );
    expect(got.map((e) => e.eventId)).toEqual([kept.webhookEventId]);
  });

  it("turns a postback into an addressed action", async () => {
    const source = lineGroupSource("C1", "U1");
    const event = await only(linePostbackEvent("approve:42:nonce", { source, replyToken: "rt" }));
    expect(event).toMatchObject({
      conversation: { key: `line:${LINE_TEST_BOT_USER_ID}:group:C1`, kind: "group" },
      sender: { platformUserId: "U1" },
      addressedToBot: true,
      content: { type: "action", actionId: "postback", value: "approve:42:nonce" },
      reply: { platform: "line", to: "C1", replyToken: "rt" },
    });
  });

  it("strips the bot's own mention in a group (UTF-16 indices) and marks the message addressed", async () => {
    const source = lineGroupSource("C2");
    const text = "😄 @Claude fix the build please";
    const event = await only(
      lineTextEvent({ source, text, mentionees: [{ index: 3, length: 7, isSelf: true }] }),
    );
    expect(event.addressedToBot).toBe(true);
    expect(event.content).toEqual({ type: "message", text: "😄 fix the build please", attachments: [] });

    const leading = await only(
      lineTextEvent({ source, text: "@Claude hi", mentionees: [{ index: 0, length: 7, isSelf: true }] }),
    );
    expect(leading.content).toMatchObject({ text: "hi" });
  });

  it("keeps other people's mentions and does not treat group chatter as addressed", async () => {
    const event = await only(
      lineTextEvent({
        source: lineRoomSource("R9", "U9"),
        text: "@Alice look",
        mentionees: [{ index: 0, length: 6, userId: "U2" }],
      }),
    );
    expect(event).toMatchObject({
      conversation: { key: `line:${LINE_TEST_BOT_USER_ID}:room:R9`, kind: "group" },
      addressedToBot: false,
      content: { text: "@Alice look" },
      reply: { to: "R9" },
    });
  });

  it("ignores a mention range that lies outside the text", async () => {
    const event = await only(
      lineTextEvent({
        text: "hi",
        mentionees: [{ index: 1, length: 50, isSelf: true }],
        source: lineGroupSource(),
      }),
    );
    expect(event).toMatchObject({ addressedToBot: true, content: { text: "hi" } });
  });

  it("turns media, files, locations and stickers into attachments or short text", async () => {
    const image = lineMessageEvent({ type: "image", quoteToken: "q", contentProvider: { type: "line" } });
    const external = lineMessageEvent({
      type: "video",
      contentProvider: { type: "external", originalContentUrl: "https://cdn.example/v.mp4" },
    });
    const file = lineMessageEvent({ type: "file", fileName: "report.pdf", fileSize: 2048 });
    const location = lineMessageEvent({
      type: "location",
      title: "Tokyo Tower",
      address: "4-2-8 Shibakoen",
      latitude: 35.6586,
      longitude: 139.7454,
    });
    const bare = lineMessageEvent({ type: "location", latitude: 1.5, longitude: -2 });
    const sticker = lineMessageEvent({ type: "sticker", packageId: "1", stickerId: "2", quoteToken: "q2" });
    const said = lineMessageEvent({ type: "sticker", packageId: "1", stickerId: "3", text: "Thanks!" });
    const got = await events(lineWebhookBody([image, external, file, location, bare, sticker, said]));
    const messageId = (e: Record<string, unknown>): unknown => (e.message as { id: unknown }).id;
    expect(got.map((e) => e.content)).toEqual([
      { type: "message", text: "", attachments: [{ kind: "image", ref: messageId(image) }] },
      { type: "message", text: "", attachments: [{ kind: "video", ref: "https://cdn.example/v.mp4" }] },
      {
        type: "message",
        text: "",
        attachments: [{ kind: "file", ref: messageId(file), name: "report.pdf", sizeBytes: 2048 }],
      },
      {
        type: "message",
        text: "[location: Tokyo Tower, 4-2-8 Shibakoen (35.6586, 139.7454)]",
        attachments: [],
      },
      { type: "message", text: "[location: (1.5, -2)]", attachments: [] },
      { type: "message", text: "[sticker]", attachments: [] },
      { type: "message", text: "[sticker: Thanks!]", attachments: [] },
    ]);
    expect(got[0]?.reply).toMatchObject({ quoteToken: "q" });
  });

  it("ignores a 1:1 event without userId (LINE's schema allows it; there is no conversation)", async () => {
    expect(await events(lineWebhookBody([lineTextEvent({ source: { type: "user" } })]))).toEqual([]);
  });
});

describe("LINE refusals", () => {
  it("refuses another channel's destination with 403", async () => {
    const result = await send(lineWebhookBody([lineTextEvent()], "U99999999999999999999999999999999"));
    expect(result).toEqual({ kind: "rejected", status: 403, reason: "destination mismatch" });
  });

  it("accepts any destination when no bot user id is configured", async () => {
    const open = createLineWebhook({ channelSecret: LINE_TEST_SECRET });
    const request = signedLineRequest(lineWebhookBody([lineTextEvent()], "Uother"));
    expect(await open.handle(webhookRequest(request))).toMatchObject({ kind: "accepted" });
  });

  it("answers 400 to bodies that are not JSON", async () => {
    expect(await send("{not json")).toEqual({
      kind: "rejected",
      status: 400,
      reason: "body is not UTF-8 JSON",
    });
    expect(await send("")).toMatchObject({ status: 400 });
  });

  it.each([
    ["events not an array", { destination: LINE_TEST_BOT_USER_ID, events: {} }],
    ["no destination", { events: [] }],
    ["null body", null],
    ["an array body", [lineTextEvent()]],
    ["missing webhookEventId", lineWebhookBody([{ ...lineTextEvent(), webhookEventId: undefined }])],
    ["missing timestamp", lineWebhookBody([{ ...lineTextEvent(), timestamp: undefined }])],
    ["message without source", lineWebhookBody([{ ...lineTextEvent(), source: undefined }])],
    ["group without groupId", lineWebhookBody([lineTextEvent({ source: { type: "group" } as never })])],
    ["text without text", lineWebhookBody([lineMessageEvent({ type: "text" })])],
    ["postback without data", lineWebhookBody([lineOtherEvent("postback", { postback: {} })])],
    ["an id with a control character", lineWebhookBody([lineTextEvent({ webhookEventId: "a\u0000b" })])],
  ])("answers 400 to a wrong shape: %s", async (_name, payload) => {
    expect(await send(payload)).toMatchObject({ kind: "rejected", status: 400 });
  });

  it("parseLineBody reports a destination mismatch as malformed", () => {
    const body = lineWebhookBody([lineTextEvent()], "Uother");
    expect(parseLineBody(body, { receivedAt: 0, botUserId: LINE_TEST_BOT_USER_ID })).toEqual({
      ok: false,
      reason: "destination mismatch",
    });
    expect(parseLineBody(body, { receivedAt: 0 })).toMatchObject({ ok: true });
  });
});

describe("LINE robustness", () => {
  it("never throws, and answers 200/400/401/403 to hostile bodies with valid signatures", async () => {
    const seen = new Set<number>();
    for (const body of lineFuzzBodies(500, 20240601)) {
      const headers = new Headers({ "x-line-signature": lineSignature(body) });
      const result = await webhook.handle({ headers, body, receivedAt: 0 });
      expect([200, 400, 401, 403]).toContain(statusOf(result));
      seen.add(statusOf(result));
      if (result.kind === "accepted") expect(() => JSON.stringify(result.events)).not.toThrow();
    }
    expect([...seen].sort()).toEqual([200, 400, 403]); // the mutations reach every branch
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
