import type { Kysely } from "kysely";
import type { InboundEvent } from "../ingress/event.ts";
import type { Database } from "../store/schema.ts";
import { KyselyInbox } from "./kysely-inbox.ts";
import type { EnqueueOutcome, InboxOptions } from "./port.ts";

interface PendingEnqueue {
  readonly events: readonly InboundEvent[];
  resolve(outcomes: EnqueueOutcome[]): void;
  reject(error: unknown): void;
}

/**
 * The inbox on SQLite (one process owns the file). SQLite has one writer, so claims need no row locks:
 * Kysely runs each transaction alone on the connection.
 *
 * Group commit: enqueues that arrive while a commit is in flight (or in the same tick) are written in one
 * transaction, so concurrent webhooks share one fsync; each caller still resolves only after that commit.
 * If a batch fails, its requests are retried one by one so one bad request cannot fail its neighbours.
 */
export class SqliteInbox extends KyselyInbox {
  #queue: PendingEnqueue[] = [];
  #writer: Promise<void> | undefined;
  #closed = false;

  constructor(db: Kysely<Database>, options: InboxOptions) {
    super(db, options);
  }

  enqueue(events: readonly InboundEvent[]): Promise<EnqueueOutcome[]> {
    if (this.#closed) return Promise.reject(new Error("inbox is closed"));
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ events, resolve, reject });
      this.#startWriter();
    });
  }

  #startWriter(): void {
    if (this.#writer) return;
    this.#writer = this.#drain().finally(() => {
      this.#writer = undefined;
      // A request can land after the drain loop's last look and before this runs.
      if (this.#queue.length > 0) this.#startWriter();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // Let requests that arrived in this tick join the batch.
      await new Promise((r) => setImmediate(r));
      const batch = this.#queue.splice(0);
      try {
        // Sequential, so arrival order becomes id order (the per-conversation order).
        const outcomes = await this.db.transaction().execute(async (trx) => {
          const all: EnqueueOutcome[][] = [];
          for (const p of batch) all.push(await this.insertEvents(trx, p.events));
          return all;
        });
        batch.forEach((p, i) => {
          p.resolve(outcomes[i] ?? []);
        });
      } catch {
        for (const p of batch) {
          await this.db
            .transaction()
            .execute((trx) => this.insertEvents(trx, p.events))
            .then(p.resolve, p.reject);
        }
      }
    }
  }

  protected readonly locksCandidateRows = false;

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer;
  }
}
