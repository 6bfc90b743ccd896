import type { Kysely, Selectable } from "kysely";
import type { ReplyContext } from "../ingress/event.ts";
import type { Platform } from "../store/port.ts";
import type { Database, TurnsTable } from "../store/schema.ts";
import type { Language } from "./messages.ts";

/** What answering a turn needs, kept with the turn so a router that restarted can still reply. */
export interface TurnReply {
  readonly platform: Platform;
  readonly reply: ReplyContext;
  readonly inboundReceivedAt: number;
  readonly language: Language;
}

export interface TurnRecord {
  readonly id: string;
  readonly conversationKey: string;
  readonly agent: string;
  readonly userId: string;
  readonly itemIds: readonly number[];
  readonly reply: TurnReply;
  readonly attempt: number;
  readonly status: "running" | "finished" | "failed";
  readonly createdAt: number;
}

/** The `turns` table: one row per turn the router sends, written before the turn is sent. */
export class TurnStore {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Records the turn, or returns the one already recorded under this id. */
  async create(turn: Omit<TurnRecord, "attempt" | "status" | "createdAt">): Promise<TurnRecord> {
    await this.#db
      .insertInto("turns")
      .values({
        id: turn.id,
        conversation_key: turn.conversationKey,
        agent: turn.agent,
        user_id: turn.userId,
        item_ids: JSON.stringify(turn.itemIds),
        reply: JSON.stringify(turn.reply),
        attempt: 1,
        status: "running",
        created_at: this.#now(),
        finished_at: null,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    const stored = await this.get(turn.id);
    if (!stored) throw new Error(`turn ${turn.id} vanished after insert`);
    return stored;
  }

  async get(id: string): Promise<TurnRecord | undefined> {
    const row = await this.#db.selectFrom("turns").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The conversation's turn that has not ended, if any (at most one: turns are serial per conversation). */
  async open(conversationKey: string): Promise<TurnRecord | undefined> {
    const row = await this.#db
      .selectFrom("turns")
      .selectAll()
      .where("conversation_key", "=", conversationKey)
      .where("status", "=", "running")
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * Agents with a turn in progress (started within `maxAgeMs`: an older "running" record is a leftover,
   * e.g. of dead-lettered messages): the idle policy must not put them to sleep.
   */
  async busyAgents(maxAgeMs: number): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom("turns")
      .select("agent")
      .distinct()
      .where("status", "=", "running")
      .where("created_at", ">", this.#now() - maxAgeMs)
      .execute();
    return new Set(rows.map((r) => r.agent));
  }

  async setAttempt(id: string, attempt: number): Promise<void> {
    await this.#db.updateTable("turns").set({ attempt }).where("id", "=", id).execute();
  }

  async end(id: string, status: "finished" | "failed"): Promise<void> {
    await this.#db
      .updateTable("turns")
      .set({ status, finished_at: this.#now() })
      .where("id", "=", id)
      .where("status", "=", "running")
      .execute();
  }
}

function toRecord(row: Selectable<TurnsTable>): TurnRecord {
  return {
    id: row.id,
    conversationKey: row.conversation_key,
    agent: row.agent,
    userId: row.user_id,
    itemIds: JSON.parse(row.item_ids) as number[],
    reply: JSON.parse(row.reply) as TurnReply,
    attempt: row.attempt,
    status: row.status,
    createdAt: row.created_at,
  };
}
