export type WaitEnd = { readonly kind: "timeout" } | { readonly kind: "aborted" };

/**
 * Things the agent waits on from the router (a permission answer, a tool result), keyed by the id the
 * router echoes back. Every wait has a deadline: nobody answering in chat must not hang a turn forever.
 */
export class Waiters<T> {
  private readonly waiting = new Map<string, (value: T | WaitEnd) => void>();

  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<T | WaitEnd> {
    return new Promise((resolve) => {
      const done = (value: T | WaitEnd) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiting.delete(id);
        resolve(value);
      };
      const onAbort = () => done({ kind: "aborted" });
      const timer = setTimeout(() => done({ kind: "timeout" }), timeoutMs);
      this.waiting.set(id, done);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Ends the wait for `id`; false when nobody waits for it (unknown, answered or expired). */
  settle(id: string, value: T): boolean {
    const done = this.waiting.get(id);
    if (!done) return false;
    done(value);
    return true;
  }

  has(id: string): boolean {
    return this.waiting.has(id);
  }
}
