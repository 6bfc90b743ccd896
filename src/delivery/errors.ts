/**
 * How a failed send is retried. Senders translate their SDK's errors into a `DeliveryError`; anything else
 * thrown (a bug, a network error nobody classified, a timeout) counts as transient.
 *
 * - `rate_limited`: the platform said wait (429 with `retry_after`); retry after that long, not counted as
 *   a failed try.
 * - `permanent`: the request itself is wrong or refused (4xx other than 408/429: bad channel, bot removed,
 *   invalid token); retrying cannot help, so the message is marked failed.
 * - `transient`: 5xx, 408, network errors and timeouts; retried with backoff up to the attempt limit.
 */
export type FailureKind = "rate_limited" | "permanent" | "transient";

export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  readonly kind: FailureKind;
  /** For `rate_limited`: how long the platform asked us to wait. */
  readonly retryAfterMs: number | undefined;
  /** The HTTP status (or platform error code) when there was one. */
  readonly status: number | undefined;
  /** For `rate_limited`: what waits, the chat (default) or every call of the bot (Discord's global limit). */
  readonly scope: "chat" | "bot";

  constructor(
    kind: FailureKind,
    message: string,
    options: {
      retryAfterMs?: number | undefined;
      status?: number | undefined;
      scope?: "chat" | "bot" | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.scope = options.scope ?? "chat";
  }
}

/** The kind of failure an HTTP status means. */
export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return "rate_limited";
  if (status === 408) return "transient";
  if (status >= 400 && status < 500) return "permanent";
  return "transient";
}

/** A `DeliveryError` for an HTTP failure. */
export function httpFailure(
  platform: string,
  status: number,
  detail: string,
  options: { retryAfterMs?: number | undefined; cause?: unknown } = {},
): DeliveryError {
  return new DeliveryError(kindOfStatus(status), `${platform} answered ${status}: ${truncate(detail, 300)}`, {
    status,
    retryAfterMs: options.retryAfterMs,
    cause: options.cause,
  });
}

export interface Failure {
  readonly kind: FailureKind;
  readonly retryAfterMs: number | undefined;
  readonly message: string;
  readonly scope: "chat" | "bot";
}

/** How the dispatcher treats any thrown value. */
export function failureOf(error: unknown): Failure {
  if (error instanceof DeliveryError) {
    return { kind: error.kind, retryAfterMs: error.retryAfterMs, message: error.message, scope: error.scope };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: "transient", retryAfterMs: undefined, message: truncate(message, 500), scope: "chat" };
}

/** Seconds from a `Retry-After` header or a JSON `retry_after`, as milliseconds. */
export function retryAfterMs(value: unknown): number | undefined {
  const seconds = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
