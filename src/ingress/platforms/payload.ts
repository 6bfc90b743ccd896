import type { z } from "zod";
import type { Attachment, InboundEvent } from "../event.ts";
import {
  ok,
  type ParseOutcome,
  reject,
  type WebhookPlatform,
  type WebhookRequest,
  type WebhookResult,
} from "./types.ts";

/**
 * What every platform module does alike: wrap a handler so that it never rejects, decode and validate
 * bodies, guard a parser, check timestamp windows, strip mentions and build attachments. Each platform
 * module keeps only what is particular to its platform.
 */

// ---- Webhook plumbing

/**
 * A `WebhookPlatform` around a synchronous handler that must not throw. If it throws all the same, the
 * request is refused with 400 rather than crashing the route.
 */
export function webhookPlatform(
  platform: WebhookPlatform["platform"],
  handle: (request: WebhookRequest) => WebhookResult,
): WebhookPlatform {
  return {
    platform,
    async handle(request) {
      try {
        return handle(request);
      } catch {
        return reject(400, "unprocessable payload");
      }
    },
  };
}

/** The webhook answer to a parse outcome: 200 with its events, or 400 when the payload is malformed. */
export function acceptOutcome(outcome: ParseOutcome): WebhookResult {
  return outcome.ok ? ok({ status: 200 }, outcome.events) : reject(400, outcome.reason);
}

/** How far a signed timestamp may be from our clock, either way, unless configured otherwise (Slack's 5 min). */
export const DEFAULT_MAX_SKEW_SECONDS = 300;

/**
 * Why a unix-seconds timestamp `header` fails: not 1–12 digits, or more than `maxSkewMs` from `receivedAt`
 * on either side. Undefined when it passes.
 */
export function timestampProblem(
  header: string,
  value: string,
  receivedAt: number,
  maxSkewMs: number,
): string | undefined {
  if (!/^\d{1,12}$/.test(value)) return `malformed ${header}`;
  if (Math.abs(receivedAt - Number(value) * 1000) > maxSkewMs) return `stale ${header}`;
  return undefined;
}

// ---- Decoding

export type Decoded = { ok: true; value: unknown } | { ok: false; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict UTF-8 (no replacement characters) then JSON. */
export function decodeJson(body: Uint8Array): Decoded {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(body)) };
  } catch {
    return { ok: false, reason: "body is not UTF-8 JSON" };
  }
}

/** JSON carried inside another format (a form field); `what` names it in the reason. */
export function parseJsonText(text: string, what: string): Decoded {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: `${what} is not JSON` };
  }
}

// ---- Parsing

/**
 * Deeper JSON is refused: `raw` is stored as JSON by the inbox and must stay cheap and safe to re-serialise
 * and walk, and no platform nests anywhere near this deep.
 */
export const MAX_NESTING = 64;

/** Thrown by parsers on a payload they cannot read; `guardedParse` turns it into `ok: false`. */
export class MalformedPayload extends Error {}

/**
 * Runs `parse` over an authenticated payload and never throws: a payload nested deeper than `MAX_NESTING`
 * or a `MalformedPayload` is `ok: false` with its reason, and any other error (a bug) is `ok: false` with
 * "unprocessable payload", so that a transport skips the payload instead of retrying it forever.
 */
export function guardedParse(payload: unknown, parse: () => InboundEvent[]): ParseOutcome {
  try {
    if (nestingExceeds(payload, MAX_NESTING)) return { ok: false, reason: "payload nested too deeply" };
    return { ok: true, events: parse() };
  } catch (error) {
    return { ok: false, reason: error instanceof MalformedPayload ? error.message : "unprocessable payload" };
  }
}

/** The value parsed by `schema`, or a `MalformedPayload` naming `what` and the first issue. */
export function must<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new MalformedPayload(describe(what, result.error));
  return result.data;
}

/** `value`, or a `MalformedPayload` saying that `what` is missing. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new MalformedPayload(`missing ${what}`);
  return value;
}

/** "invalid <what> at <path>: <message>" for the first issue of a zod error. */
export function describe(what: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return `invalid ${what}`;
  const path = issue.path.map(String).join(".");
  return `invalid ${what}${path === "" ? "" : ` at ${path}`}: ${issue.message}`;
}

/** Whether objects and arrays nest more than `limit` levels; stops descending at the limit. */
export function nestingExceeds(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit === 0) return true;
  for (const child of Object.values(value)) {
    if (nestingExceeds(child, limit - 1)) return true;
  }
  return false;
}

// ---- Content

/** A command's name as `EventContent.command` holds it on every platform: no leading slash, lower case. */
export function commandName(raw: string): string {
  const name = raw.replace(/^\//, "").toLowerCase();
  if (name === "") throw new MalformedPayload("empty command name");
  return name;
}

export type Range = readonly [start: number, end: number];

/**
 * Removes [start, end) ranges given in UTF-16 code units (invalid or overlapping ones are skipped), closes
 * the gap a removal leaves between two words, and trims.
 */
export function removeRanges(text: string, ranges: readonly Range[]): string {
  const valid = ranges.filter(([start, end]) => start >= 0 && start < end && end <= text.length);
  valid.sort((a, b) => b[0] - a[0]);
  let result = text;
  let limit = text.length;
  for (const [start, end] of valid) {
    if (end > limit) continue;
    const before = result.slice(0, start);
    const after = result.slice(end);
    result = /\s$/.test(before) ? before + after.replace(/^[ \t]+/, "") : before + after;
    limit = start;
  }
  return result.trim();
}

/**
 * Removes the mentions `pattern` (global, capturing the user id in group 1, and matching the blanks after
 * the mention so that no double space is left) finds for users `isBot` accepts; keeps the others; trims.
 */
export function stripBotMentions(
  text: string,
  pattern: RegExp,
  isBot: (id: string) => boolean,
): { text: string; found: boolean } {
  let found = false;
  const stripped = text.replace(pattern, (whole, id: string) => {
    if (!isBot(id)) return whole;
    found = true;
    return "";
  });
  return { text: stripped.trim(), found };
}

/** image/*, video/* and audio/* are media, any other type a file, and no type at all "other". */
export function attachmentKind(mimeType: string | undefined): Attachment["kind"] {
  if (mimeType === undefined) return "other";
  const top = mimeType.split("/")[0]?.toLowerCase();
  if (top === "image" || top === "video" || top === "audio") return top;
  return "file";
}

/** An attachment with the optional details the platform gave (`undefined` and `null` ones left out). */
export function attachment(
  kind: Attachment["kind"],
  ref: string,
  details: {
    readonly name?: string | null | undefined;
    readonly mimeType?: string | undefined;
    readonly sizeBytes?: number | undefined;
  } = {},
): Attachment {
  const { name, mimeType, sizeBytes } = details;
  return {
    kind,
    ref,
    ...(name === undefined || name === null ? {} : { name }),
    ...(mimeType === undefined ? {} : { mimeType }),
    ...(sizeBytes === undefined ? {} : { sizeBytes }),
  };
}
