import { Buffer } from "node:buffer";
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { discordInteractionResponse, parseDiscordInteraction } from "./discord-parse.ts";
import { DEFAULT_MAX_SKEW_SECONDS, decodeJson, timestampProblem, webhookPlatform } from "./payload.ts";
import { ok, reject, type WebhookPlatform, type WebhookRequest, type WebhookResult } from "./types.ts";

export {
  type DiscordParseContext,
  discordInteractionResponse,
  parseDiscordGatewayMessage,
  parseDiscordInteraction,
} from "./discord-parse.ts";

/**
 * Discord's Interactions Endpoint URL. Every request is checked with Ed25519 over the timestamp header
 * followed by the raw body, with the application's public key, before anything is parsed; a bad or missing
 * signature is a 401, which Discord's routine probes with invalid signatures expect. Discord documents no
 * replay window; we refuse timestamps more than `maxSkewSeconds` away from our clock (and the inbox dedupes
 * on the interaction id within it).
 *
 * The response is the interaction's initial callback (see `discordInteractionResponse`): PONG for PING, a
 * deferred "thinking…" for commands, a silent deferred update for clicks.
 */
export interface DiscordWebhookOptions {
  /** The application's Ed25519 public key, 64 hex digits. */
  readonly publicKey: string;
  readonly applicationId?: string | undefined;
  /** Default 300. */
  readonly maxSkewSeconds?: number;
}

export function createDiscordWebhook(options: DiscordWebhookOptions): WebhookPlatform {
  const key = importDiscordPublicKey(options.publicKey);
  const maxSkewMs = (options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS) * 1000;
  return webhookPlatform("discord", (request) =>
    handleDiscord(request, key, maxSkewMs, options.applicationId),
  );
}

function handleDiscord(
  request: WebhookRequest,
  key: KeyObject,
  maxSkewMs: number,
  applicationId: string | undefined,
): WebhookResult {
  const failure = checkSignature(request, key, maxSkewMs);
  if (failure !== undefined) return reject(401, failure);

  const body = decodeJson(request.body);
  if (!body.ok) return reject(400, body.reason);
  const outcome = parseDiscordInteraction(body.value, { receivedAt: request.receivedAt, applicationId });
  if (!outcome.ok) return reject(400, outcome.reason);
  // parseDiscordInteraction has checked that `type` is an integer.
  const type = (body.value as { type: number }).type;
  return ok({ status: 200, json: discordInteractionResponse(type) }, outcome.events);
}

function checkSignature(request: WebhookRequest, key: KeyObject, maxSkewMs: number): string | undefined {
  const signature = request.headers.get("x-signature-ed25519");
  const timestamp = request.headers.get("x-signature-timestamp");
  if (signature === null || timestamp === null) return "missing Discord signature headers";
  const problem = timestampProblem("X-Signature-Timestamp", timestamp, request.receivedAt, maxSkewMs);
  if (problem !== undefined) return problem;
  if (!verifyDiscordSignature(key, timestamp, request.body, signature)) return "bad signature";
  return undefined;
}

// ---- Ed25519

const HEX_PUBLIC_KEY = /^[0-9a-f]{64}$/i;
const HEX_SIGNATURE = /^[0-9a-f]{128}$/i;

/** Imports the Developer Portal's hex public key. Throws on a malformed key (a configuration error). */
export function importDiscordPublicKey(hex: string): KeyObject {
  if (!HEX_PUBLIC_KEY.test(hex)) throw new Error("Discord public key must be 64 hex digits");
  const x = Buffer.from(hex, "hex").toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

/**
 * Whether `signatureHex` is a valid Ed25519 signature of UTF-8(timestamp) ++ body. Never throws: a
 * malformed signature is simply not valid.
 */
export function verifyDiscordSignature(
  key: KeyObject,
  timestamp: string,
  body: Uint8Array,
  signatureHex: string,
): boolean {
  if (!HEX_SIGNATURE.test(signatureHex)) return false;
  const message = Buffer.concat([Buffer.from(timestamp, "utf8"), body]);
  try {
    return verify(null, message, key, Buffer.from(signatureHex, "hex"));
  } catch {
    return false;
  }
}
