import { randomUUID } from "node:crypto";
import { type Kysely, sql, type Transaction } from "kysely";
import type { InboundEvent } from "../ingress/event.ts";
import type { Database } from "../store/schema.ts";
import {
  type ClaimOptions,
  type DeadLetter,
  defaultBackoff,
  type EnqueueOutcome,
  type FailOutcome,
  type Inbox,
  type InboxItem,
  type InboxOptions,
  type InboxStats,
  type Lease,
  LeaseLostError,
} from "./port.ts";

type Trx = Transaction<Database>;

/**
 * The inbox over Kysely. The SQL is shared; the dialects differ in how concurrent claimers are kept apart
 * (`locksCandidateRows`) and how enqueues are committed (`enqueue`): see `sqlite-inbox.ts` and
 * `postgres-inbox.ts`.
 *
 * Each conversation has a row in `inbox_conversations` whose `ready_at` is the `available_at` of its oldest
 * pending item (null when none). A claim takes the conversation with the smallest `ready_at` that is due
 * and not leased, so the head item of each conversation gates the ones behind it (order), while other
 * conversations proceed (parallelism).
 */
export abstract class KyselyInbox implements Inbox {
  protected readonly db: Kysely<Database>;
  protected readonly now: () => number;
  readonly #maxAttempts: number;
  readonly #retentionMs: number;
  readonly #backoff: (attempt: number) => number;

  constructor(db: Kysely<Database>, options: InboxOptions) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.#maxAttempts = options.maxAttempts;
    this.#retentionMs = options.retentionMs;
    this.#backoff = options.backoff ?? defaultBackoff;
  }

  abstract enqueue(events: readonly InboundEvent[]): Promise<EnqueueOutcome[]>;
  abstract close(): Promise<void>;
  /** Whether claimers must lock the candidate row (`FOR UPDATE SKIP LOCKED`); SQLite's single writer need not. */
  protected abstract readonly locksCandidateRows: boolean;

  /** The next due, unleased conversation, locked against other claimers where the dialect needs it. */
  async #lockCandidate(trx: Trx, now: number): Promise<string | undefined> {
    let query = trx
      .selectFrom("inbox_conversations")
      .select("key")
      .where("ready_at", "<=", now)
      .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<=", now)]))
      .orderBy("ready_at")
      .limit(1);
    if (this.locksCandidateRows) query = query.forUpdate().skipLocked();
    return (await query.executeTakeFirst())?.key;
  }

  /**
   * Inserts events in `trx`; the dedupe is the unique (platform, event_id) constraint. (SQLite does the
   * same with prepared statements on its hot path; keep the two in step.)
   */
  protected async insertEvents(trx: Trx, events: readonly InboundEvent[]): Promise<EnqueueOutcome[]> {
    const now = this.now();
    const outcomes: EnqueueOutcome[] = [];
    for (const event of events) {
      const inserted = await trx
        .insertInto("inbox_items")
        .values({
          platform: event.platform,
          event_id: event.eventId,
          conversation_key: event.conversation.key,
          payload: JSON.stringify(event),
          status: "pending",
          attempts: 0,
          available_at: now,
          received_at: event.receivedAt,
          finished_at: null,
          last_error: null,
        })
        .onConflict((oc) => oc.columns(["platform", "event_id"]).doNothing())
        .returning("id")
        .executeTakeFirst();
      if (!inserted) {
        outcomes.push({ eventId: event.eventId, status: "duplicate" });
        continue;
      }
      await trx
        .insertInto("inbox_conversations")
        .values({
          key: event.conversation.key,
          ready_at: now,
          lease_owner: null,
          lease_token: null,
          lease_expires_at: null,
        })
        .onConflict((oc) =>
          // A conversation that already has a pending head keeps that head's readiness.
          oc.column("key").doUpdateSet({
            ready_at: sql<number>`coalesce(inbox_conversations.ready_at, excluded.ready_at)`,
          }),
        )
        .execute();
      outcomes.push({ eventId: event.eventId, status: "accepted" });
    }
    return outcomes;
  }

  async claim(options: ClaimOptions): Promise<Lease | undefined> {
    const maxItems = options.maxItems ?? 20;
    // A candidate whose pending items were all dead-lettered during the claim yields nothing; try the next.
    for (let round = 0; round < 10; round++) {
      const outcome = await this.db.transaction().execute(async (trx) => {
        const now = this.now();
        const key = await this.#lockCandidate(trx, now);
        if (key === undefined) return { done: true as const };

        const rows = await trx
          .selectFrom("inbox_items")
          .select(["id", "attempts", "payload"])
          .where("conversation_key", "=", key)
          .where("status", "=", "pending")
          .orderBy("id")
          .limit(maxItems)
          .execute();
        const exhausted = rows.filter((r) => r.attempts >= this.#maxAttempts).map((r) => r.id);
        if (exhausted.length > 0) {
          await this.#deadLetter(
            trx,
            exhausted,
            now,
            "delivered the maximum number of times without completing",
          );
        }
        const live = rows.filter((r) => r.attempts < this.#maxAttempts);
        if (live.length === 0) {
          await this.#settle(trx, key);
          return { done: false as const };
        }
        await trx
          .updateTable("inbox_items")
          .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
          .where(
            "id",
            "in",
            live.map((r) => r.id),
          )
          .execute();
        const token = randomUUID();
        const expiresAt = now + options.leaseMs;
        await trx
          .updateTable("inbox_conversations")
          .set({ lease_owner: options.consumer, lease_token: token, lease_expires_at: expiresAt })
          .where("key", "=", key)
          .execute();
        const items: InboxItem[] = live.map((r) => ({
          id: r.id,
          attempts: r.attempts + 1,
          event: JSON.parse(r.payload) as InboundEvent,
        }));
        return { done: true as const, lease: { conversationKey: key, token, expiresAt, items } };
      });
      if (outcome.done) return "lease" in outcome ? outcome.lease : undefined;
    }
    return undefined;
  }

  async arrivedSince(lease: Lease): Promise<InboxItem[]> {
    const last = Math.max(0, ...lease.items.map((i) => i.id));
    const rows = await this.db
      .selectFrom("inbox_items")
      .select(["id", "attempts", "payload"])
      .where("conversation_key", "=", lease.conversationKey)
      .where("status", "=", "pending")
      .where("id", ">", last)
      .orderBy("id")
      .limit(100)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      attempts: r.attempts,
      event: JSON.parse(r.payload) as InboundEvent,
    }));
  }

  async extend(lease: Lease, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable("inbox_conversations")
      .set({ lease_expires_at: this.now() + leaseMs })
      .where("key", "=", lease.conversationKey)
      .where("lease_token", "=", lease.token)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async complete(
    lease: Lease,
    itemIds: readonly number[],
    options: { keepLease?: boolean } = {},
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.#fence(trx, lease);
      if (itemIds.length > 0) {
        await trx
          .updateTable("inbox_items")
          .set({ status: "done", finished_at: this.now() })
          .where("conversation_key", "=", lease.conversationKey)
          .where("status", "=", "pending")
          .where("id", "in", [...itemIds])
          .execute();
      }
      if (!options.keepLease) await this.#settle(trx, lease.conversationKey);
    });
  }

  async fail(lease: Lease, error: string): Promise<FailOutcome> {
    return this.db.transaction().execute(async (trx) => {
      await this.#fence(trx, lease);
      const now = this.now();
      const dead = lease.items.filter((i) => i.attempts >= this.#maxAttempts).map((i) => i.id);
      const retry = lease.items.filter((i) => i.attempts < this.#maxAttempts);
      if (dead.length > 0) await this.#deadLetter(trx, dead, now, error);
      let retryAt: number | null = null;
      if (retry.length > 0) {
        retryAt = now + this.#backoff(Math.max(...retry.map((i) => i.attempts)));
        await trx
          .updateTable("inbox_items")
          .set({ available_at: retryAt, last_error: error.slice(0, 2_000) })
          .where(
            "id",
            "in",
            retry.map((i) => i.id),
          )
          .where("status", "=", "pending")
          .execute();
      }
      await this.#settle(trx, lease.conversationKey);
      return { retryAt, deadLettered: dead };
    });
  }

  async release(lease: Lease, options: { retryInMs?: number; reason?: string } = {}): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.#fence(trx, lease);
      const ids = lease.items.map((i) => i.id);
      const later = options.retryInMs !== undefined ? this.now() + options.retryInMs : undefined;
      if (ids.length > 0) {
        await trx
          .updateTable("inbox_items")
          .set((eb) => ({
            attempts: eb("attempts", "-", 1),
            ...(later !== undefined && { available_at: later }),
            ...(options.reason !== undefined && { last_error: options.reason.slice(0, 2_000) }),
          }))
          .where("id", "in", ids)
          .where("status", "=", "pending")
          .where("attempts", ">", 0)
          .execute();
      }
      await this.#settle(trx, lease.conversationKey);
    });
  }

  async listDeadLetters(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const rows = await this.db
      .selectFrom("inbox_items")
      .select([
        "id",
        "conversation_key",
        "platform",
        "event_id",
        "attempts",
        "last_error",
        "received_at",
        "finished_at",
      ])
      .where("status", "=", "dead")
      .orderBy("finished_at", "desc")
      .orderBy("id", "desc")
      .limit(options.limit ?? 100)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      conversationKey: r.conversation_key,
      platform: r.platform,
      eventId: r.event_id,
      attempts: r.attempts,
      lastError: r.last_error,
      receivedAt: r.received_at,
      failedAt: r.finished_at ?? r.received_at,
    }));
  }

  async retryDeadLetter(itemId: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable("inbox_items")
        .set({ status: "pending", attempts: 0, available_at: this.now(), finished_at: null })
        .where("id", "=", itemId)
        .where("status", "=", "dead")
        .returning("conversation_key")
        .executeTakeFirst();
      if (!row) return false;
      // Leave any current lease alone; only the conversation's readiness moves.
      const readyAt = await this.#headReadyAt(trx, row.conversation_key);
      await trx
        .updateTable("inbox_conversations")
        .set({ ready_at: readyAt })
        .where("key", "=", row.conversation_key)
        .execute();
      return true;
    });
  }

  async purge(): Promise<number> {
    const result = await this.db
      .deleteFrom("inbox_items")
      .where("status", "=", "done")
      .where("finished_at", "<", this.now() - this.#retentionMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async stats(): Promise<InboxStats> {
    const now = this.now();
    const counts = await this.db
      .selectFrom("inbox_items")
      .select([
        "status",
        (eb) => eb.fn.countAll<number>().as("n"),
        (eb) => eb.fn.min("received_at").as("oldest"),
      ])
      .groupBy("status")
      .execute();
    const leased = await this.db
      .selectFrom("inbox_conversations")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("lease_expires_at", ">", now)
      .executeTakeFirstOrThrow();
    const by = (s: string) => counts.find((c) => c.status === s);
    const oldest = by("pending")?.oldest;
    return {
      pending: Number(by("pending")?.n ?? 0),
      done: Number(by("done")?.n ?? 0),
      dead: Number(by("dead")?.n ?? 0),
      leased: Number(leased.n),
      oldestPendingAgeMs: oldest == null ? 0 : Math.max(0, now - Number(oldest)),
    };
  }

  /** Throws `LeaseLostError` unless `lease` still holds its conversation. Runs first in each transaction. */
  async #fence(trx: Trx, lease: Lease): Promise<void> {
    const held = await trx
      .updateTable("inbox_conversations")
      .set({ lease_token: lease.token })
      .where("key", "=", lease.conversationKey)
      .where("lease_token", "=", lease.token)
      .executeTakeFirst();
    if (held.numUpdatedRows === 0n) throw new LeaseLostError(lease.conversationKey);
  }

  /** Frees the conversation and recomputes when its next head is due. */
  async #settle(trx: Trx, key: string): Promise<void> {
    const readyAt = await this.#headReadyAt(trx, key);
    await trx
      .updateTable("inbox_conversations")
      .set({ ready_at: readyAt, lease_owner: null, lease_token: null, lease_expires_at: null })
      .where("key", "=", key)
      .execute();
  }

  async #headReadyAt(trx: Trx, key: string): Promise<number | null> {
    const head = await trx
      .selectFrom("inbox_items")
      .select("available_at")
      .where("conversation_key", "=", key)
      .where("status", "=", "pending")
      .orderBy("id")
      .limit(1)
      .executeTakeFirst();
    return head?.available_at ?? null;
  }

  async #deadLetter(trx: Trx, ids: readonly number[], now: number, error: string): Promise<void> {
    await trx
      .updateTable("inbox_items")
      .set({ status: "dead", finished_at: now, last_error: error.slice(0, 2_000) })
      .where("id", "in", [...ids])
      .execute();
  }
}
