import { randomUUID } from "node:crypto";
import { type ExpressionBuilder, type Kysely, type Selectable, sql, type UpdateObject } from "kysely";
import type { ReplyContext } from "../ingress/event.ts";
import type { DatabaseHandle } from "../store/index.ts";
import type { Platform } from "../store/port.ts";
import type { Database, OutboxTable } from "../store/schema.ts";
import type { ClaimedMessage, OutboundExtras, OutboundMessage, OutboxQueue, OutboxRecord } from "./port.ts";

type Row = Selectable<OutboxTable>;

export interface OutboxOptions {
  readonly now?: () => number;
}

/** The outbox over the store's connection, on SQLite or PostgreSQL. */
export function createOutbox(handle: DatabaseHandle, options: OutboxOptions = {}): KyselyOutbox {
  return new KyselyOutbox(handle.db, handle.dialect === "postgres", options);
}

/**
 * The outbox on Kysely; one implementation for both dialects. Claims lease rows with a token; on
 * PostgreSQL the candidate rows are also locked `FOR UPDATE SKIP LOCKED`, so competing dispatchers each
 * take different conversations without waiting on one another. On SQLite the single writer serialises
 * claims, and the guarded lease update keeps two processes from taking the same row.
 */
export class KyselyOutbox implements OutboxQueue {
  readonly #db: Kysely<Database>;
  readonly #lockRows: boolean;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, lockRows: boolean, options: OutboxOptions = {}) {
    this.#db = db;
    this.#lockRows = lockRows;
    this.#now = options.now ?? Date.now;
  }

  async enqueue(message: OutboundMessage): Promise<boolean> {
    if (message.reply.platform !== message.platform) {
      throw new Error(`reply context for ${message.reply.platform} on a ${message.platform} message`);
    }
    const now = this.#now();
    const inserted = await this.#db
      .insertInto("outbox")
      .values({
        idempotency_key: message.idempotencyKey,
        platform: message.platform,
        conversation_key: message.conversationKey,
        reply: JSON.stringify(message.reply),
        inbound_received_at: message.inboundReceivedAt,
        text: message.text,
        status: "pending",
        attempts: 0,
        chunks_sent: 0,
        created_at: now,
        next_attempt_at: now,
        sent_at: null,
        last_error: null,
        lease_owner: null,
        lease_token: null,
        lease_expires_at: null,
        extras: message.extras ? JSON.stringify(message.extras) : null,
      })
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .returning("id")
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async has(idempotencyKey: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom("outbox")
      .select("id")
      .where("idempotency_key", "=", idempotencyKey)
      .executeTakeFirst();
    return row !== undefined;
  }

  async get(idempotencyKey: string): Promise<OutboxRecord | undefined> {
    const row = await this.#db
      .selectFrom("outbox")
      .selectAll()
      .where("idempotency_key", "=", idempotencyKey)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async pending(limit = 100): Promise<OutboxRecord[]> {
    const rows = await this.#db
      .selectFrom("outbox")
      .selectAll()
      .where("status", "=", "pending")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  async claim(options: {
    owner: string;
    leaseMs: number;
    limit: number;
    exclude?: readonly number[];
  }): Promise<ClaimedMessage[]> {
    if (options.limit <= 0) return [];
    const exclude = options.exclude ?? [];
    return this.#db.transaction().execute(async (trx) => {
      const now = this.#now();
      let query = trx
        .selectFrom("outbox as o")
        .selectAll("o")
        .where("o.status", "=", "pending")
        .where("o.next_attempt_at", "<=", now)
        .where((eb) => eb.or([eb("o.lease_expires_at", "is", null), eb("o.lease_expires_at", "<=", now)]))
        // The head of its conversation: no older message of the conversation is still unsent.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("outbox as p")
                .select("p.id")
                .whereRef("p.conversation_key", "=", "o.conversation_key")
                .where("p.status", "=", "pending")
                .whereRef("p.id", "<", "o.id"),
            ),
          ),
        )
        .$if(exclude.length > 0, (q) => q.where("o.id", "not in", [...exclude]))
        .orderBy("o.next_attempt_at")
        .orderBy("o.id")
        .limit(options.limit);
      if (this.#lockRows) query = query.forUpdate().skipLocked();
      const rows = await query.execute();

      const claimed: ClaimedMessage[] = [];
      for (const row of rows) {
        const leaseToken = randomUUID();
        const result = await trx
          .updateTable("outbox")
          .set({
            lease_owner: options.owner,
            lease_token: leaseToken,
            lease_expires_at: now + options.leaseMs,
            attempts: sql<number>`attempts + 1`,
          })
          .where("id", "=", row.id)
          .where("status", "=", "pending")
          .where((eb) => leaseFree(eb, now))
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) continue;
        claimed.push({ ...toRecord({ ...row, attempts: row.attempts + 1 }), leaseToken });
      }
      return claimed;
    });
  }

  recordChunks(claim: ClaimedMessage, chunksSent: number, leaseMs: number): Promise<boolean> {
    return this.#updateLeased(claim, { chunks_sent: chunksSent, lease_expires_at: this.#now() + leaseMs });
  }

  extendLease(claim: ClaimedMessage, leaseMs: number): Promise<boolean> {
    return this.#updateLeased(claim, { lease_expires_at: this.#now() + leaseMs });
  }

  markSent(claim: ClaimedMessage): Promise<boolean> {
    return this.#updateLeased(claim, {
      status: "sent",
      sent_at: this.#now(),
      ...NO_LEASE,
      ...scrubbed(claim),
    });
  }

  markFailed(claim: ClaimedMessage, error: string): Promise<boolean> {
    return this.#updateLeased(claim, {
      status: "failed",
      last_error: error,
      ...NO_LEASE,
      ...scrubbed(claim),
    });
  }

  retryLater(
    claim: ClaimedMessage,
    options: { at: number; error: string | null; countTry: boolean },
  ): Promise<boolean> {
    return this.#updateLeased(claim, {
      next_attempt_at: options.at,
      ...(options.error !== null && { last_error: options.error }),
      ...(!options.countTry && { attempts: sql<number>`attempts - 1` }),
      ...NO_LEASE,
    });
  }

  async #updateLeased(claim: ClaimedMessage, values: UpdateObject<Database, "outbox">): Promise<boolean> {
    const result = await this.#db
      .updateTable("outbox")
      .set(values)
      .where("id", "=", claim.id)
      .where("lease_token", "=", claim.leaseToken)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

const NO_LEASE = { lease_owner: null, lease_token: null, lease_expires_at: null } as const;

/** What replaces the stored text of a `sensitive` message once it is sent or given up. */
export const SCRUBBED_TEXT = "[sent; removed from the outbox: it held a one-time code or link]";

/**
 * A sensitive message's text is overwritten as it leaves the queue (see `OutboundExtras.sensitive`), and
 * an agent's file (`OutboundExtras.file`) loses its bytes: the database does not keep them once sent.
 */
function scrubbed(claim: ClaimedMessage): { text?: string; extras?: string } {
  const extras = claim.extras;
  return {
    ...(extras?.sensitive && { text: SCRUBBED_TEXT }),
    ...(extras?.file && { extras: JSON.stringify({ ...extras, file: { ...extras.file, dataBase64: "" } }) }),
  };
}

function leaseFree(eb: ExpressionBuilder<Database, "outbox">, now: number) {
  return eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<=", now)]);
}

function toRecord(row: Row): OutboxRecord {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    platform: row.platform as Platform,
    conversationKey: row.conversation_key,
    reply: JSON.parse(row.reply) as ReplyContext,
    inboundReceivedAt: row.inbound_received_at,
    text: row.text,
    ...(row.extras && { extras: JSON.parse(row.extras) as OutboundExtras }),
    status: row.status,
    attempts: row.attempts,
    chunksSent: row.chunks_sent,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at,
    sentAt: row.sent_at,
    lastError: row.last_error,
  };
}
