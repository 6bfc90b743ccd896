// The Slack webhook at the request level: signatures, special requests, malformed and fuzzed bodies.
import { describe, expect, it } from "vitest";
import {
  garble,
  mutate,
  mutateFields,
  nestedObject,
  pick,
  randomText,
  seeded,
} from "../../../test/support/fuzz.ts";
import {
  TEST_NOW as NOW,
  TEST_NOW_S as NOW_S,
  type SignedRequest,
  sender,
  statusOf,
  webhookRequest,
} from "../../../test/support/webhooks/common.ts";
import {
  SLACK_FORM,
  SLACK_JSON,
  SLACK_TEST_BOT_USER_ID,
  SLACK_TEST_SIGNING_SECRET,
  type SlackSignOptions,
  signedSlackBody,
  signedSlackCommand,
  signedSlackEvent,
  signedSlackInteraction,
  slackAppMention,
  slackBlockAction,
  slackDirectMessage,
  slackFile,
  slackMessageEvent,
  slackSignature,
  slackSlashCommand,
  slackUrlVerification,
  uniqueTs,
} from "../../../test/support/webhooks/slack.ts";
import { createSlackWebhook, parseSlackPayload } from "./slack.ts";

const send = sender(createSlackWebhook({ signingSecret: SLACK_TEST_SIGNING_SECRET }));
const at: SlackSignOptions = { timestamp: NOW_S };
/** Slack-shaped values that get further into the parser than `ODD_VALUES` alone. */
const SLACK_ODD = ["D1", "1700000000.1", { type: 1 }];

describe("Slack signature", () => {
  // §2.9: the example from Slack's "verifying requests" page, as bolt-js's ExpressReceiver tests use it.
  const docs = {
    secret: "8f742231b10e8888abcd99yyyzzz85a5",
    timestamp: "1531420618",
    signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  };
  const docsWebhook = createSlackWebhook({ signingSecret: docs.secret });
  const headers = {
    "content-type": SLACK_FORM,
    "x-slack-request-timestamp": docs.timestamp,
    "x-slack-signature": docs.signature,
  };
  const docsRequest = (body: string, receivedAt: number) =>
    docsWebhook.handle(webhookRequest({ headers, body }, receivedAt));

  it("accepts Slack's documented example and reads its slash command", async () => {
    const result = await docsRequest(docs.body, Date.parse("2018-07-12T11:36:58-07:00"));
    expect(result).toMatchObject({ kind: "accepted", response: { status: 200 } });
    if (result.kind !== "accepted") return;
    expect(result.events).toHaveLength(1);
    expect(result.events[0]).toMatchObject({
      platform: "slack",
      eventId: "command:398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
      conversation: { key: "slack:T1DC2JH3J:G8PSS9T3V", kind: "group" },
      sender: { platformUserId: "U2CERLKJA", displayName: "roadrunner" },
      content: { type: "command", command: "webhook-collect", text: "" },
      reply: {
        platform: "slack",
        teamId: "T1DC2JH3J",
        channel: "G8PSS9T3V",
        responseUrl: "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        triggerId: "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
      },
    });
    expect(result.events[0]?.raw).not.toHaveProperty("token");
  });

  it("refuses the documented example once it is stale, or with a changed body", async () => {
    expect(await docsRequest(docs.body, 1_531_420_618_000 + 600_000)).toMatchObject({ status: 401 });
    expect(await docsRequest(docs.body.replace("text=", "text=x"), 1_531_420_618_000)).toMatchObject({
      kind: "rejected",
      status: 401,
      reason: "bad signature",
    });
  });

  it("matches bolt-js's verify-request vector: a valid signature on a shapeless body is a 400", async () => {
    const bolt = createSlackWebhook({ signingSecret: "secret" });
    const body = '{"foo":"bar"}';
    const request = (signature: string) =>
      sender(bolt)({
        headers: {
          "content-type": SLACK_JSON,
          "x-slack-request-timestamp": String(NOW_S),
          "x-slack-signature": signature,
        },
        body,
      });
    expect(await request(slackSignature(body, NOW_S, "secret"))).toMatchObject({ status: 400 });
    expect(await request(slackSignature(body, NOW_S, "other"))).toMatchObject({ status: 401 });
  });

  it("applies the 300 s window on both sides", async () => {
    const payload = slackMessageEvent();
    for (const skew of [-301, 301]) {
      const result = await send(signedSlackEvent(payload, { timestamp: NOW_S + skew }));
      expect(result).toMatchObject({ kind: "rejected", status: 401 });
    }
    for (const skew of [-300, 300]) {
      expect(await send(signedSlackEvent(payload, { timestamp: NOW_S + skew }))).toMatchObject({
        kind: "accepted",
      });
    }
    const narrow = createSlackWebhook({ signingSecret: SLACK_TEST_SIGNING_SECRET, maxSkewSeconds: 10 });
    const result = await sender(narrow)(signedSlackEvent(payload, { timestamp: NOW_S - 11 }));
    expect(result).toMatchObject({ status: 401 });
  });

  it("refuses missing or malformed headers and other secrets", async () => {
    const good = signedSlackEvent(slackMessageEvent(), at);
    const without = (name: string) => {
      const headers = { ...good.headers };
      delete headers[name];
      return { headers, body: good.body };
    };
    const cases: SignedRequest[] = [
      without("x-slack-signature"),
      without("x-slack-request-timestamp"),
      {
        headers: {
          ...good.headers,
          "x-slack-signature": good.headers["x-slack-signature"]?.replace("v0=", "v1=") ?? "",
        },
        body: good.body,
      },
      { headers: { ...good.headers, "x-slack-signature": "" }, body: good.body },
      { headers: { ...good.headers, "x-slack-signature": "v0=" }, body: good.body },
      { headers: { ...good.headers, "x-slack-request-timestamp": `${NOW_S}.0` }, body: good.body },
      { headers: { ...good.headers, "x-slack-request-timestamp": "soon" }, body: good.body },
      signedSlackEvent(slackMessageEvent(), { ...at, secret: "not-the-secret" }),
      { headers: good.headers, body: `${good.body} ` },
    ];
    for (const request of cases) {
      expect(await send(request)).toMatchObject({ kind: "rejected", status: 401 });
    }
  });

  it("answers url_verification with the challenge, only when signed", async () => {
    const payload = slackUrlVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    expect(await send(signedSlackEvent(payload, at))).toEqual({
      kind: "accepted",
      events: [],
      response: { status: 200, json: { challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" } },
    });
    expect(await send(signedSlackEvent(payload, { ...at, signature: null }))).toMatchObject({ status: 401 });
  });

  it("answers the unsigned ssl_check probe with an empty 200 and nothing else", async () => {
    const body = "ssl_check=1&token=xyz&payload=%7B%22type%22%3A%22block_actions%22%7D";
    expect(await send(signedSlackBody(body, SLACK_FORM, { ...at, signature: null }))).toEqual({
      kind: "accepted",
      events: [],
      response: { status: 200 },
    });
  });
});

describe("Slack malformed requests", () => {
  it("answers 400 to signed bodies it cannot read", async () => {
    const message = slackMessageEvent();
    const noEventId = { ...message, event_id: undefined };
    const cases: SignedRequest[] = [
      signedSlackEvent("{not json", at),
      signedSlackEvent("[]", at),
      signedSlackEvent("null", at),
      signedSlackEvent(noEventId, at),
      signedSlackEvent(slackMessageEvent({ ts: "yesterday" }), at),
      signedSlackEvent(slackMessageEvent({ channel: undefined }), at),
      signedSlackEvent(slackMessageEvent({ user: undefined }), at),
      signedSlackEvent(slackMessageEvent({ files: [{ name: "no id" }] }), at),
      signedSlackEvent(slackMessageEvent({ team: undefined }, { team_id: undefined }), at),
      signedSlackBody("\u00ff\u00fe", SLACK_JSON, at),
      signedSlackInteraction("{broken", at),
      signedSlackInteraction({ type: "block_actions", actions: "none" }, at),
      signedSlackInteraction({ ...slackBlockAction(), trigger_id: undefined }, at),
      signedSlackCommand({ ...slackSlashCommand(), user_id: "" }, at),
      signedSlackCommand({ text: "no command" }, at),
      signedSlackBody("hello", "text/plain", at),
      signedSlackEvent({ ...message, event: nestedObject(100) }, at),
    ];
    for (const request of cases) expect(await send(request)).toMatchObject({ kind: "rejected", status: 400 });
  });

  it("never throws: mutated and random bodies with valid signatures are 200 or 400", async () => {
    const random = seeded(0x51ac);
    const mutated = (value: unknown) => mutate(value, random, SLACK_ODD);
    const seeds: (() => SignedRequest)[] = [
      () =>
        signedSlackEvent(
          mutated(slackMessageEvent({ text: `<@${SLACK_TEST_BOT_USER_ID}> x`, files: [slackFile()] })),
          at,
        ),
      () => signedSlackEvent(mutated(slackAppMention()), at),
      () => signedSlackEvent(mutated(slackDirectMessage({ thread_ts: uniqueTs() })), at),
      () => signedSlackEvent(mutated(slackUrlVerification()), at),
      () => signedSlackInteraction(mutated(slackBlockAction()), at),
      () => signedSlackCommand(mutateFields(slackSlashCommand(), random), at),
      () => signedSlackBody(garble(JSON.stringify(slackMessageEvent()), random), SLACK_JSON, at),
      () =>
        signedSlackBody(garble(new URLSearchParams(slackSlashCommand()).toString(), random), SLACK_FORM, at),
      () => signedSlackBody(randomText(random), random() < 0.5 ? SLACK_JSON : SLACK_FORM, at),
    ];
    const statuses = new Set<number>();
    for (let i = 0; i < 540; i++) {
      const result = await send(pick(seeds, random)());
      const status = statusOf(result);
      statuses.add(status);
      expect([200, 400]).toContain(status);
      if (result.kind === "rejected") expect(result.reason).not.toBe("unprocessable payload");
      else expect(JSON.parse(JSON.stringify(result.events))).toEqual(result.events);
    }
    expect(statuses).toEqual(new Set([200, 400]));
  });

  it("never throws when parsing mutated Socket Mode payloads directly", () => {
    const random = seeded(0x50c7);
    const kinds = ["events_api", "interactive", "slash_commands"] as const;
    for (let i = 0; i < 300; i++) {
      const kind = pick(kinds, random);
      const base =
        kind === "events_api"
          ? slackMessageEvent()
          : kind === "interactive"
            ? slackBlockAction()
            : slackSlashCommand();
      const outcome = parseSlackPayload(kind, mutate(base, random, SLACK_ODD), { receivedAt: NOW });
      // A bug surfaces as "unprocessable payload": the parser never throws.
      if (!outcome.ok) expect(outcome.reason).not.toBe("unprocessable payload");
    }
  });
});
