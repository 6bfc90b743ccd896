import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  acceptOutcome,
  DEFAULT_MAX_SKEW_SECONDS,
  decodeJson,
  parseJsonText,
  timestampProblem,
  webhookPlatform,
} from "./payload.ts";
import { parseSlackPayload } from "./slack-parse.ts";
import { ok, reject, type WebhookPlatform, type WebhookRequest, type WebhookResult } from "./types.ts";

export { parseSlackPayload, type SlackParseContext, type SlackPayloadKind } from "./slack-parse.ts";

/**
 * Slack's one request URL for the Events API (JSON), interactivity (form `payload=<json>`) and slash
 * commands (form fields). Every request is checked with the v0 signing secret over the raw bytes before
 * anything is parsed; the one exception is Slack's unsigned `ssl_check=1` probe, answered 200 and stored
 * nowhere. Normalisation is `parseSlackPayload`, shared with Socket Mode.
 *
 * Responses: `url_verification` gets `{challenge}`; everything else an empty 200 (slash commands are
 * answered later through `response_url`).
 */
export interface SlackWebhookOptions {
  readonly signingSecret: string;
  /** How far `X-Slack-Request-Timestamp` may be from our clock, either way. Default 300 (Slack's 5 minutes). */
  readonly maxSkewSeconds?: number;
}

export function createSlackWebhook(options: SlackWebhookOptions): WebhookPlatform {
  if (options.signingSecret === "") throw new Error("Slack signing secret must not be empty");
  const maxSkewMs = (options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS) * 1000;
  return webhookPlatform("slack", (request) => handleSlack(request, options.signingSecret, maxSkewMs));
}

function handleSlack(request: WebhookRequest, secret: string, maxSkewMs: number): WebhookResult {
  const type = mediaType(request.headers);
  const fields = type === FORM ? formFields(request.body) : undefined;
  // Slack does not sign its ssl_check probe; answering it stores nothing and ignores every other field.
  if (fields?.get("ssl_check") === "1") return ok();

  const failure = verifySignature(request, secret, maxSkewMs);
  if (failure !== undefined) return reject(401, failure);

  const ctx = { receivedAt: request.receivedAt };
  if (type === JSON_TYPE) {
    const body = decodeJson(request.body);
    if (!body.ok) return reject(400, body.reason);
    const challenge = urlVerificationChallenge(body.value);
    if (challenge !== undefined) return ok({ status: 200, json: { challenge } });
    return acceptOutcome(parseSlackPayload("events_api", body.value, ctx));
  }
  if (fields !== undefined) {
    const payload = fields.get("payload");
    if (payload === null) {
      return acceptOutcome(parseSlackPayload("slash_commands", Object.fromEntries(fields), ctx));
    }
    const interaction = parseJsonText(payload, "payload field");
    if (!interaction.ok) return reject(400, interaction.reason);
    return acceptOutcome(parseSlackPayload("interactive", interaction.value, ctx));
  }
  return reject(400, "unsupported content type");
}

// ---- Signature

/**
 * `X-Slack-Signature` must be `v0=` + hex HMAC-SHA256(secret, `v0:<timestamp>:<raw body>`), and the
 * timestamp within the window of `receivedAt` on both sides (Bolt checks only the past; a future stamp is
 * as suspicious). Returns why the request fails, or undefined when it passes.
 */
function verifySignature(request: WebhookRequest, secret: string, maxSkewMs: number): string | undefined {
  const timestamp = request.headers.get("x-slack-request-timestamp");
  const signature = request.headers.get("x-slack-signature");
  if (timestamp === null || signature === null) return "missing Slack signature headers";
  const problem = timestampProblem("X-Slack-Request-Timestamp", timestamp, request.receivedAt, maxSkewMs);
  if (problem !== undefined) return problem;
  if (!signature.startsWith("v0=")) return "unsupported signature version";

  const expected = Buffer.from(`v0=${slackSignature(secret, timestamp, request.body)}`, "utf8");
  const actual = Buffer.from(signature, "utf8");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return "bad signature";
  return undefined;
}

function slackSignature(secret: string, timestamp: string, body: Uint8Array): string {
  return createHmac("sha256", secret).update(`v0:${timestamp}:`, "utf8").update(body).digest("hex");
}

// ---- Body decoding

const JSON_TYPE = "application/json";
const FORM = "application/x-www-form-urlencoded";

function mediaType(headers: Headers): string {
  return (headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

const lenientUtf8 = new TextDecoder("utf-8");

/** Form fields never fail to decode: broken bytes and escapes stay as they are, and checks fail later. */
function formFields(body: Uint8Array): URLSearchParams {
  return new URLSearchParams(lenientUtf8.decode(body));
}

function urlVerificationChallenge(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { type, challenge } = body as { type?: unknown; challenge?: unknown };
  return type === "url_verification" && typeof challenge === "string" ? challenge : undefined;
}
