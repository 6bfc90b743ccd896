/** Capped exponential backoff with jitter, shared by the transports' reconnect and retry loops. */
export interface BackoffOptions {
  /** The first delay. */
  readonly initialMs: number;
  /** No delay exceeds this. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 60_000 };

/** The delay before retry number `attempt` (from 1): doubling from `initialMs` up to `maxMs`, ±20 % jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const base = Math.min(options.initialMs * 2 ** Math.max(0, attempt - 1), options.maxMs);
  return Math.round(Math.min(base * (0.8 + Math.random() * 0.4), options.maxMs));
}

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A one-line description of a thrown value, for logs (never the request URL, which may hold a token). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
