import type SQLite from "better-sqlite3";
import type { InboundEvent } from "../ingress/event.ts";
import type { DatabaseHandle } from "../store/index.ts";
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
 * Enqueue is the hot path of every webhook, so it skips the query builder: cached prepared statements in
 * one synchronous transaction. Group commit: the requests that arrive within one turn of the event loop
 * are written in one transaction (one fsync); each caller resolves only after that commit. If a batch
 * fails, its requests are retried one by one so one bad request cannot fail its neighbours.
 */
export class SqliteInbox extends KyselyInbox {
  protected readonly locksCandidateRows = false;
  readonly #handle: DatabaseHandle;
  readonly #insertItem: SQLite.Statement;
  readonly #markConversationReady: SQLite.Statement;
  #queue: PendingEnqueue[] = [];
  #writer: Promise<void> | undefined;
  #closed = false;

  constructor(handle: DatabaseHandle, options: InboxOptions) {
    super(handle.db, options);
    if (!handle.sqlite) throw new Error("SqliteInbox needs a SQLite database handle");
    this.#handle = handle;
    this.#insertItem = handle.sqlite.prepare(
      `insert into inbox_items
         (platform, event_id, conversation_key, payload, status, attempts, available_at, received_at)
       values (?, ?, ?, ?, 'pending', 0, ?, ?)
       on conflict (platform, event_id) do nothing
       returning id`,
    );
    // A conversation that already has a pending head keeps that head's readiness.
    this.#markConversationReady = handle.sqlite.prepare(
      `insert into inbox_conversations (key, ready_at) values (?, ?)
       on conflict (key) do update set ready_at = coalesce(inbox_conversations.ready_at, excluded.ready_at)`,
    );
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
      // Let requests that arrived in this turn of the event loop join the batch.
      await new Promise((r) => setImmediate(r));
      const batch = this.#queue.splice(0);
      // Holding Kysely's connection lock keeps this transaction from nesting inside one of Kysely's.
      await this.#handle.db.connection().execute(async () => {
        try {
          const outcomes = this.#writeBatch(batch.map((p) => p.events));
          batch.forEach((p, i) => {
            p.resolve(outcomes[i] ?? []);
          });
        } catch {
          for (const p of batch) {
            try {
              p.resolve(this.#writeBatch([p.events])[0] ?? []);
            } catch (error) {
              p.reject(error);
            }
          }
        }
      });
    }
  }

  /** One transaction for all requests, in arrival order (id order is the per-conversation order). */
  #writeBatch(requests: readonly (readonly InboundEvent[])[]): EnqueueOutcome[][] {
    const sqlite = this.#handle.sqlite as SQLite.Database;
    // Durable against power loss, not just a process crash: the caller acknowledges a webhook on return.
    sqlite.pragma("synchronous = FULL");
    try {
      return this.#insertAll(sqlite, requests);
    } finally {
      sqlite.pragma("synchronous = NORMAL");
    }
  }

  #insertAll(sqlite: SQLite.Database, requests: readonly (readonly InboundEvent[])[]): EnqueueOutcome[][] {
    return sqlite.transaction(() => {
      const now = this.now();
      return requests.map((events) =>
        events.map((event): EnqueueOutcome => {
          const row = this.#insertItem.get(
            event.platform,
            event.eventId,
            event.conversation.key,
            JSON.stringify(event),
            now,
            event.receivedAt,
          );
          if (row === undefined) return { eventId: event.eventId, status: "duplicate" };
          this.#markConversationReady.run(event.conversation.key, now);
          return { eventId: event.eventId, status: "accepted" };
        }),
      );
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer;
  }
}
