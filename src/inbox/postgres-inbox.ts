import type { Kysely } from "kysely";
import type { InboundEvent } from "../ingress/event.ts";
import type { Database } from "../store/schema.ts";
import { KyselyInbox } from "./kysely-inbox.ts";
import type { EnqueueOutcome, InboxOptions } from "./port.ts";

/**
 * The inbox on PostgreSQL, shared by any number of ingress and router processes. A claim locks its
 * candidate conversation row `FOR UPDATE SKIP LOCKED`, so competing routers each take a different
 * conversation without waiting on one another. Each enqueue is its own transaction (the pool gives
 * concurrency; PostgreSQL groups commits itself).
 */
export class PostgresInbox extends KyselyInbox {
  #closed = false;

  constructor(db: Kysely<Database>, options: InboxOptions) {
    super(db, options);
  }

  async enqueue(events: readonly InboundEvent[]): Promise<EnqueueOutcome[]> {
    if (this.#closed) throw new Error("inbox is closed");
    if (events.length === 0) return [];
    return this.db.transaction().execute((trx) => this.insertEvents(trx, events));
  }

  protected readonly locksCandidateRows = true;

  async close(): Promise<void> {
    this.#closed = true;
  }
}
