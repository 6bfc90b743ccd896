import type { InboundEvent } from "../ingress/event.ts";

/**
 * The Inbox: where every accepted inbound event waits until the router has handled it.
 *
 * Guarantees (the contract suite `inbox.contract.ts` checks each against SQLite and PostgreSQL):
 * - `enqueue` resolves only after the events are durable; an event whose (platform, eventId) was seen
 *   within the retention period is reported as a duplicate and stored once.
 * - Per conversation, items are handed out in arrival order and at most one lease exists at a time;
 *   different conversations are handed out in parallel.
 * - A lease that expires (its consumer died) makes the conversation claimable again; every claim counts
 *   as an attempt, and an item claimed `maxAttempts` times without completing is dead-lettered.
 * - `complete`, `fail`, `release` and `extend` are fenced by the lease token: a consumer whose lease was
 *   taken over cannot change anything.
 */
export interface Inbox {
  enqueue(events: readonly InboundEvent[]): Promise<EnqueueOutcome[]>;
  /**
   * Leases the oldest ready conversation and returns its pending items in order (at most `maxItems`, so
   * a consumer can coalesce messages that queued up during a turn), or `undefined` when none is ready.
   */
  claim(options: ClaimOptions): Promise<Lease | undefined>;
  /**
   * Items of the leased conversation that arrived after the lease was taken (not in `lease.items`), in
   * order. Lets a consumer act on control messages (cancel, approve) while a long turn holds the lease;
   * it completes those with `complete(lease, ids, { keepLease: true })` and leaves the rest for the next claim.
   */
  arrivedSince(lease: Lease): Promise<InboxItem[]>;
  /** Pushes the lease's expiry to now + `leaseMs`. False when the lease was lost. */
  extend(lease: Lease, leaseMs: number): Promise<boolean>;
  /**
   * Marks these items handled and frees the conversation (unless `keepLease`, for items handled while a
   * turn still runs). Throws `LeaseLostError` if the lease was lost.
   */
  complete(lease: Lease, itemIds: readonly number[], options?: { keepLease?: boolean }): Promise<void>;
  /**
   * Gives the lease back after a failure: the items are retried after a backoff, or dead-lettered once
   * they have used their attempts. Throws `LeaseLostError` if the lease was lost.
   */
  fail(lease: Lease, error: string): Promise<FailOutcome>;
  /**
   * Gives the lease back without charging an attempt: at once (shutdown), or after `retryInMs` when the
   * items are fine but cannot be handled yet (the agent's host is down). `reason` is kept as the last error.
   */
  release(lease: Lease, options?: { retryInMs?: number; reason?: string }): Promise<void>;
  listDeadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Puts a dead-lettered item back at the head of its conversation with fresh attempts. */
  retryDeadLetter(itemId: number): Promise<boolean>;
  /** Deletes handled items older than the retention period; returns how many. */
  purge(): Promise<number>;
  stats(): Promise<InboxStats>;
  /** Waits for buffered work (group commits) and stops accepting more. Does not close the database. */
  close(): Promise<void>;
}

export interface EnqueueOutcome {
  readonly eventId: string;
  readonly status: "accepted" | "duplicate";
}

export interface ClaimOptions {
  /** Who holds the lease (for operators; fencing uses a fresh token). */
  readonly consumer: string;
  readonly leaseMs: number;
  readonly maxItems?: number;
}

export interface InboxItem {
  readonly id: number;
  /** Deliveries including this one. */
  readonly attempts: number;
  readonly event: InboundEvent;
}

export interface Lease {
  readonly conversationKey: string;
  readonly token: string;
  readonly expiresAt: number;
  readonly items: readonly InboxItem[];
}

export interface FailOutcome {
  readonly retryAt: number | null;
  readonly deadLettered: readonly number[];
}

export interface DeadLetter {
  readonly id: number;
  readonly conversationKey: string;
  readonly platform: string;
  readonly eventId: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly receivedAt: number;
  readonly failedAt: number;
}

export interface InboxStats {
  readonly pending: number;
  readonly dead: number;
  readonly done: number;
  readonly leased: number;
  /** Age in ms of the oldest pending item, 0 when none. */
  readonly oldestPendingAgeMs: number;
}

export interface InboxOptions {
  readonly maxAttempts: number;
  readonly retentionMs: number;
  /** Delay before the n-th retry (n from 1). Default: 1 s doubling to at most 5 min, with ±20 % jitter. */
  readonly backoff?: (attempt: number) => number;
  readonly now?: () => number;
}

export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(conversationKey: string) {
    super(`the lease on conversation ${conversationKey} was lost (it expired and another consumer took it)`);
  }
}

export function defaultBackoff(attempt: number): number {
  const base = Math.min(1_000 * 2 ** (attempt - 1), 300_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
