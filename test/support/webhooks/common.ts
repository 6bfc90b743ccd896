import type { WebhookPlatform, WebhookRequest, WebhookResult } from "../../../src/ingress/platforms/types.ts";

/**
 * What the four platforms' request builders share: the signed request they produce, and how a test turns it
 * into what `WebhookPlatform.handle` receives. Free of test-runner imports, so that benchmarks can use it.
 */

/** A request as a platform would send it: header names in lower case, the exact body text that was signed. */
export interface SignedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A fixed clock for tests that sign timestamps (unix seconds; 2025-06-15T15:06:40Z). */
export const TEST_NOW_S = 1_750_000_000;
/** `TEST_NOW_S` in ms, as `WebhookRequest.receivedAt` holds it. */
export const TEST_NOW = TEST_NOW_S * 1000;

/** The body of a request: a string is sent as is (raw bodies for fuzzing), anything else as JSON. */
export function jsonBody(payload: unknown): string {
  return typeof payload === "string" ? payload : JSON.stringify(payload);
}

/** The request as `WebhookPlatform.handle` receives it. */
export function webhookRequest(signed: SignedRequest, receivedAt: number = Date.now()): WebhookRequest {
  return { headers: new Headers(signed.headers), body: new TextEncoder().encode(signed.body), receivedAt };
}

/** Sends signed requests to `webhook`, received at `receivedAt` unless the call says otherwise. */
export function sender(
  webhook: WebhookPlatform,
  receivedAt: number = TEST_NOW,
): (signed: SignedRequest, at?: number) => Promise<WebhookResult> {
  return (signed, at = receivedAt) => webhook.handle(webhookRequest(signed, at));
}

/** The HTTP status a result answers with. */
export const statusOf = (result: WebhookResult): number =>
  result.kind === "accepted" ? result.response.status : result.status;

/** The result, known to be accepted; throws with the status and reason of a rejected one. */
export function mustAccept(result: WebhookResult): Extract<WebhookResult, { kind: "accepted" }> {
  if (result.kind !== "accepted") throw new Error(`rejected ${result.status}: ${result.reason}`);
  return result;
}
