import { Buffer } from "node:buffer";
import { validateSignature } from "@line/bot-sdk";
import { z } from "zod";
import type { Attachment, EventContent, InboundEvent, ReplyContext } from "../event.ts";
import {
  acceptOutcome,
  attachment,
  decodeJson,
  describe,
  guardedParse,
  MalformedPayload,
  must,
  type Range,
  removeRanges,
  webhookPlatform,
} from "./payload.ts";
import {
  type ParseOutcome,
  reject,
  type WebhookPlatform,
  type WebhookRequest,
  type WebhookResult,
} from "./types.ts";

/**
 * LINE Messaging API webhook: `x-line-signature` is base64 HMAC-SHA256(channel secret, raw body); the body
 * is `{destination, events[]}` with any number of events (none for the console's "Verify" button).
 *
 * Normalisation rules:
 * - `message` and `postback` events become events; every other type (follow, join, unsend, messageEdited,
 *   module events, future types) and unknown message types are ignored; `mode: "standby"` events too.
 * - Text loses the bot's own mentions (`isSelf`); image/video/audio/file become attachments whose `ref` is
 *   the message id (fetch from the content API) or, for `contentProvider.type: "external"`, the URL.
 *   Stickers become `[sticker]` (or `[sticker: <text>]` for message stickers), locations
 *   `[location: <title>, <address> (<lat>, <lon>)]`.
 * - Only what we read is validated: a broken envelope, a broken common field, or a broken field we need
 *   (message id, text, postback data, a group without groupId…) makes the whole request 400.
 *   `source` is required only on message/postback events (module events legitimately have none).
 *   A 1:1 source without `userId` (optional in LINE's schema) has no conversation, so the event is ignored.
 */
export interface LineWebhookOptions {
  readonly channelSecret: string;
  /** The bot's user id (`U…`); when set, requests for another `destination` are refused with 403. */
  readonly botUserId?: string | undefined;
}

export interface LineParseContext {
  readonly receivedAt: number;
  readonly botUserId?: string | undefined;
}

export function createLineWebhook(options: LineWebhookOptions): WebhookPlatform {
  if (options.channelSecret === "") throw new Error("LINE channel secret must not be empty");
  return webhookPlatform("line", (request) => handleLine(request, options));
}

function handleLine(request: WebhookRequest, options: LineWebhookOptions): WebhookResult {
  const signature = request.headers.get("x-line-signature");
  if (signature === null || signature === "") return reject(401, "missing x-line-signature");
  const bytes = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
  if (!validateSignature(bytes, options.channelSecret, signature)) return reject(401, "bad signature");

  const body = decodeJson(request.body);
  if (!body.ok) return reject(400, body.reason);
  const envelope = EnvelopeSchema.safeParse(body.value);
  if (!envelope.success) return reject(400, describe("body", envelope.error));
  if (!destinationMatches(envelope.data.destination, options.botUserId)) {
    return reject(403, "destination mismatch");
  }
  return acceptOutcome(
    parseLineBody(body.value, { receivedAt: request.receivedAt, botUserId: options.botUserId }),
  );
}

/**
 * Normalises an authenticated LINE webhook body. A `destination` other than `ctx.botUserId` is refused
 * here too (`ok: false`); the webhook checks it first so that it can answer 403 instead of 400.
 */
export function parseLineBody(body: unknown, ctx: LineParseContext): ParseOutcome {
  return guardedParse(body, () => {
    const envelope = must(EnvelopeSchema, body, "body");
    if (!destinationMatches(envelope.destination, ctx.botUserId)) {
      throw new MalformedPayload("destination mismatch");
    }
    const events: InboundEvent[] = [];
    for (const raw of envelope.events) {
      const event = toInboundEvent(raw, envelope.destination, ctx.receivedAt);
      if (event !== undefined) events.push(event);
    }
    return events;
  });
}

const destinationMatches = (destination: string, botUserId: string | undefined): boolean =>
  botUserId === undefined || destination === botUserId;

// ---- Schemas: only the fields we read. Ids must be printable ASCII: they end up in keys and columns
// (PostgreSQL text refuses NUL), and LINE's ids are.

const lineId = z.string().regex(/^[\x21-\x7e]{1,128}$/, "expected a LINE id");

const EnvelopeSchema = z.object({ destination: lineId, events: z.array(z.unknown()) });

const EventSchema = z.object({
  type: z.string(),
  webhookEventId: lineId,
  timestamp: z.number().int().nonnegative(),
  mode: z.string().optional(),
  replyToken: z.string().optional(),
});

const SOURCE_TYPES: ReadonlySet<string> = new Set(["user", "group", "room"]);
const SourceSchema = z.union([
  z.object({ type: z.literal("user"), userId: lineId.optional() }),
  z.object({ type: z.literal("group"), groupId: lineId, userId: lineId.optional() }),
  z.object({ type: z.literal("room"), roomId: lineId, userId: lineId.optional() }),
]);
const SourceTypeSchema = z.object({ source: z.object({ type: z.string() }) });
type Source = z.output<typeof SourceSchema>;

const MessageEventSchema = z.object({ source: SourceSchema, message: z.unknown() });
const MessageHeaderSchema = z.object({ type: z.string(), id: lineId });
const PostbackEventSchema = z.object({ source: SourceSchema, postback: z.object({ data: z.string() }) });

const index = z.number().int().nonnegative();
const quoteToken = z.string().optional();
const MessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("text"),
    text: z.string(),
    quoteToken,
    mention: z
      .object({ mentionees: z.array(z.object({ index, length: index, isSelf: z.boolean().optional() })) })
      .optional(),
  }),
  z.object({
    type: z.enum(["image", "video", "audio"]),
    id: lineId,
    quoteToken,
    contentProvider: z.object({ type: z.string(), originalContentUrl: z.string().optional() }).optional(),
  }),
  z.object({ type: z.literal("file"), id: lineId, fileName: z.string(), fileSize: z.number().nonnegative() }),
  z.object({
    type: z.literal("location"),
    title: z.string().optional(),
    address: z.string().optional(),
    latitude: z.number(),
    longitude: z.number(),
  }),
  z.object({ type: z.literal("sticker"), quoteToken, text: z.string().optional() }),
]);
type Message = z.output<typeof MessageSchema>;
const MESSAGE_TYPES: ReadonlySet<string> = new Set([
  "text",
  "image",
  "video",
  "audio",
  "file",
  "location",
  "sticker",
]);

// ---- Normalisation

interface Body {
  readonly source: Source;
  readonly content: EventContent;
  readonly mentionsBot: boolean;
  readonly quoteToken?: string | undefined;
}

function toInboundEvent(raw: unknown, destination: string, receivedAt: number): InboundEvent | undefined {
  const event = must(EventSchema, raw, "event");
  if (event.mode === "standby") return undefined;
  const body = eventBody(event.type, raw);
  if (body === undefined) return undefined;
  const to = chatId(body.source);
  if (to === undefined) return undefined;
  const kind = body.source.type === "user" ? "dm" : "group";
  return {
    platform: "line",
    eventId: event.webhookEventId,
    conversation: { key: `line:${destination}:${body.source.type}:${to}`, kind },
    sender: { platformUserId: body.source.userId ?? "" },
    occurredAt: event.timestamp,
    receivedAt,
    addressedToBot: kind === "dm" || body.mentionsBot,
    content: body.content,
    reply: replyContext(to, event.replyToken, body.quoteToken),
    raw,
  };
}

function eventBody(type: string, raw: unknown): Body | undefined {
  if (type !== "message" && type !== "postback") return undefined;
  // A future source type has no conversation we know how to key: ignore the event, like a future event type.
  if (!SOURCE_TYPES.has(must(SourceTypeSchema, raw, `${type} event`).source.type)) return undefined;
  if (type === "postback") {
    const { source, postback } = must(PostbackEventSchema, raw, "postback event");
    return {
      source,
      content: { type: "action", actionId: "postback", value: postback.data },
      mentionsBot: true,
    };
  }
  const { source, message } = must(MessageEventSchema, raw, "message event");
  const { type: messageType, id } = must(MessageHeaderSchema, message, "message");
  if (!MESSAGE_TYPES.has(messageType)) return undefined;
  return { source, ...messageBody(must(MessageSchema, message, "message"), id) };
}

function messageBody(message: Message, id: string): Omit<Body, "source"> {
  const text = (value: string): EventContent => ({ type: "message", text: value, attachments: [] });
  const attach = (file: Attachment): EventContent => ({ type: "message", text: "", attachments: [file] });
  switch (message.type) {
    case "text": {
      const self = (message.mention?.mentionees ?? []).filter((m) => m.isSelf === true);
      const ranges = self.map((m): Range => [m.index, m.index + m.length]);
      return {
        content: text(removeRanges(message.text, ranges)),
        mentionsBot: self.length > 0,
        quoteToken: message.quoteToken,
      };
    }
    case "image":
    case "video":
    case "audio": {
      const external = message.contentProvider?.type === "external";
      const ref = (external ? message.contentProvider?.originalContentUrl : undefined) ?? id;
      return {
        content: attach(attachment(message.type, ref)),
        mentionsBot: false,
        quoteToken: message.quoteToken,
      };
    }
    case "file":
      return {
        content: attach(attachment("file", id, { name: message.fileName, sizeBytes: message.fileSize })),
        mentionsBot: false,
      };
    case "location": {
      const place = [message.title, message.address].filter((s) => s !== undefined && s !== "").join(", ");
      const where = `${place === "" ? "" : `${place} `}(${message.latitude}, ${message.longitude})`;
      return { content: text(`[location: ${where}]`), mentionsBot: false };
    }
    case "sticker":
      return {
        content: text(message.text === undefined ? "[sticker]" : `[sticker: ${message.text}]`),
        mentionsBot: false,
        quoteToken: message.quoteToken,
      };
  }
}

/** The user, group or room id: where pushes go, and the last part of the conversation key. */
function chatId(source: Source): string | undefined {
  switch (source.type) {
    case "user":
      return source.userId;
    case "group":
      return source.groupId;
    case "room":
      return source.roomId;
  }
}

function replyContext(
  to: string,
  replyToken: string | undefined,
  quoteToken: string | undefined,
): ReplyContext {
  return {
    platform: "line",
    to,
    ...(replyToken === undefined ? {} : { replyToken }),
    ...(quoteToken === undefined ? {} : { quoteToken }),
  };
}
