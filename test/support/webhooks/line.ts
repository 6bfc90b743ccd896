import { createHmac, randomBytes } from "node:crypto";
import { fuzzBodies, pick } from "../fuzz.ts";
import { jsonBody, type SignedRequest } from "./common.ts";

export { type SignedRequest, webhookRequest } from "./common.ts";

/**
 * Builders for LINE webhook requests: payloads shaped like the platform's (see line/line-openapi
 * `webhook.yml`), signed like the platform signs them. Every builder takes overrides; ids are unique per
 * call (and across processes) so dedupe never collapses two built events.
 */

export const LINE_TEST_SECRET = "test_channel_secret";
export const LINE_TEST_BOT_USER_ID = "U0123456789abcdef0123456789abcdef";

/** base64 HMAC-SHA256 of the UTF-8 body, as `x-line-signature` carries it. */
export function lineSignature(body: string | Uint8Array, secret: string = LINE_TEST_SECRET): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

/**
 * A signed request. `payload` is serialised with `JSON.stringify` unless it is already a string (raw bodies
 * for fuzzing). `signature: null` leaves the header out; a string replaces it.
 */
export function signedLineRequest(
  payload: unknown,
  options: { secret?: string; signature?: string | null } = {},
): SignedRequest {
  const body = jsonBody(payload);
  const signature = options.signature === undefined ? lineSignature(body, options.secret) : options.signature;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (signature !== null) headers["x-line-signature"] = signature;
  return { headers, body };
}

export function lineWebhookBody(
  events: readonly object[],
  destination: string = LINE_TEST_BOT_USER_ID,
): { destination: string; events: readonly object[] } {
  return { destination, events };
}

// ---- Ids

let counter = 0;
const processTag = randomBytes(4).readUInt32BE(0);
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID-shaped webhook event id (26 Crockford base32 characters), unique per call. */
export function lineWebhookEventId(): string {
  let time = Date.now();
  let head = "";
  for (let i = 0; i < 10; i++) {
    head = (CROCKFORD[time % 32] ?? "0") + head;
    time = Math.floor(time / 32);
  }
  const tail = Array.from(randomBytes(16), (b) => CROCKFORD[b % 32] ?? "0").join("");
  return head + tail;
}

/** A numeric message id like LINE's, unique per call. */
export function lineMessageId(): string {
  counter += 1;
  return `5${String(processTag).padStart(10, "0")}${String(counter).padStart(7, "0")}`;
}

/** `U`/`C`/`R` + 32 hex digits, LINE's id shape for users, groups and rooms. */
export function lineId(prefix: "U" | "C" | "R"): string {
  return prefix + randomBytes(16).toString("hex");
}

// ---- Sources

export type LineSource =
  | { type: "user"; userId?: string }
  | { type: "group"; groupId: string; userId?: string }
  | { type: "room"; roomId: string; userId?: string };

export const lineUserSource = (userId: string = lineId("U")): LineSource => ({ type: "user", userId });

export const lineGroupSource = (groupId: string = lineId("C"), userId: string = lineId("U")): LineSource => ({
  type: "group",
  groupId,
  userId,
});

export const lineRoomSource = (roomId: string = lineId("R"), userId: string = lineId("U")): LineSource => ({
  type: "room",
  roomId,
  userId,
});

// ---- Events

export interface LineEventOverrides {
  source?: LineSource;
  webhookEventId?: string;
  timestamp?: number;
  mode?: "active" | "standby";
  replyToken?: string;
  isRedelivery?: boolean;
}

function eventBase(type: string, o: LineEventOverrides): Record<string, unknown> {
  return {
    type,
    webhookEventId: o.webhookEventId ?? lineWebhookEventId(),
    timestamp: o.timestamp ?? Date.now(),
    mode: o.mode ?? "active",
    source: o.source ?? lineUserSource(),
    deliveryContext: { isRedelivery: o.isRedelivery ?? false },
  };
}

export interface LineMention {
  index: number;
  length: number;
  isSelf?: boolean;
  userId?: string;
  type?: "user" | "all";
}

/** A text message event. `mentionees` are added as `message.mention.mentionees` when given. */
export function lineTextEvent(
  o: LineEventOverrides & {
    text?: string;
    mentionees?: LineMention[];
    quoteToken?: string;
    messageId?: string;
  } = {},
): Record<string, unknown> {
  const message: Record<string, unknown> = {
    id: o.messageId ?? lineMessageId(),
    type: "text",
    text: o.text ?? "hello",
    quoteToken: o.quoteToken ?? `q-${randomBytes(8).toString("hex")}`,
  };
  if (o.mentionees !== undefined) {
    message.mention = { mentionees: o.mentionees.map((m) => ({ type: "user", ...m })) };
  }
  return { ...eventBase("message", o), replyToken: o.replyToken ?? replyToken(), message };
}

/** A message event with any message object (image, file, sticker, a future type…); `id` is filled in. */
export function lineMessageEvent(
  message: Record<string, unknown>,
  o: LineEventOverrides = {},
): Record<string, unknown> {
  return {
    ...eventBase("message", o),
    replyToken: o.replyToken ?? replyToken(),
    message: { id: lineMessageId(), ...message },
  };
}

export function linePostbackEvent(data: string, o: LineEventOverrides = {}): Record<string, unknown> {
  return { ...eventBase("postback", o), replyToken: o.replyToken ?? replyToken(), postback: { data } };
}

/** Any other event type (follow, join, unsend, a future type…), with `extra` fields merged in. */
export function lineOtherEvent(
  type: string,
  extra: Record<string, unknown> = {},
  o: LineEventOverrides = {},
): Record<string, unknown> {
  return { ...eventBase(type, o), ...extra };
}

const replyToken = (): string => randomBytes(16).toString("hex");

// ---- Fuzzing

/**
 * Bodies for robustness tests, reproducible from `seed` (see `fuzzBodies`): hostile classics (null, arrays,
 * nesting past any stack, `__proto__` keys, invalid UTF-8), then `count` valid requests (a mention in a 1:1,
 * group or room, a postback, a file) with random structural mutations or a few damaged bytes. Sign them
 * with `lineSignature`.
 */
export function lineFuzzBodies(count: number, seed = 1): Uint8Array[] {
  const valid = (random: () => number) =>
    lineWebhookBody([
      lineTextEvent({
        mentionees: [{ index: 0, length: 3, isSelf: true }],
        source: pick([lineUserSource(), lineGroupSource(), lineRoomSource()], random),
      }),
      linePostbackEvent("data"),
      lineMessageEvent({ type: "file", fileName: "f", fileSize: 1 }),
    ]);
  // Another well-formed destination reaches the 403 branch.
  return fuzzBodies(count, seed, valid, [`U${"f".repeat(32)}`]);
}
