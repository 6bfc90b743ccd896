import type { InboundEvent } from "../event.ts";

/** What a webhook endpoint receives: the exact body bytes (signatures are over them) and the headers. */
export interface WebhookRequest {
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** ms since epoch; also the clock for timestamp windows. */
  readonly receivedAt: number;
}

/**
 * The verdict on one webhook request. `rejected` stores nothing. `accepted` means: store `events` durably
 * (possibly none, e.g. a ping or an ignored event type), then answer with `response`.
 */
export type WebhookResult =
  | { readonly kind: "rejected"; readonly status: 400 | 401 | 403; readonly reason: string }
  | {
      readonly kind: "accepted";
      readonly events: readonly InboundEvent[];
      readonly response: WebhookResponse;
    };

export interface WebhookResponse {
  readonly status: 200 | 204;
  /** JSON bodies are given as values and serialised by the route; text as a string. */
  readonly json?: unknown;
  readonly text?: string;
}

/**
 * One platform's webhook: verify the signature on the raw bytes (constant time) before parsing anything,
 * then normalise. `handle` must never reject (throw) on any input: every client fault is a `rejected` result
 * with 400 (malformed), 401 (missing or bad signature or secret, stale timestamp) or 403 (authentic, but for
 * another bot, e.g. a LINE `destination` mismatch).
 */
export interface WebhookPlatform {
  readonly platform: "line" | "slack" | "discord" | "telegram";
  handle(request: WebhookRequest): Promise<WebhookResult>;
}

export const ok = (
  response: WebhookResponse = { status: 200 },
  events: readonly InboundEvent[] = [],
): WebhookResult => ({
  kind: "accepted",
  events,
  response,
});

export const reject = (status: 400 | 401 | 403, reason: string): WebhookResult => ({
  kind: "rejected",
  status,
  reason,
});

/**
 * The result of normalising an already-authenticated payload, shared by webhooks and the long-lived
 * transports (Socket Mode, Gateway, long polling) so both produce identical events and dedupe keys.
 * `ok: false` means the payload is malformed (a webhook answers 400), nested deeper than 64 levels, or hit
 * a parser bug ("unprocessable payload"); the parsers never throw. Unknown event types are `ok` with no
 * events. Every event's `raw` is JSON-serialisable and at most 64 levels deep.
 */
export type ParseOutcome =
  | { readonly ok: true; readonly events: InboundEvent[] }
  | { readonly ok: false; readonly reason: string };
