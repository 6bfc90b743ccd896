import type { Kysely } from "kysely";
import type { Database, VmsTable } from "../store/schema.ts";

export type VmState = VmsTable["state"];

/** Transitional states and how long each may last before the reconciler repairs it. */
export const STATE_DEADLINES_MS: Partial<Record<VmState, number>> = {
  creating: 120_000,
  starting: 60_000,
  stopping: 60_000,
  removing: 60_000,
};

export interface VmRecord {
  readonly name: string;
  readonly kind: "switchboard" | "project";
  readonly userId: string;
  /** The host of the pool holding the container and its volume; a VM never moves. */
  readonly host: string;
  readonly state: VmState;
  readonly stateSince: number;
  /** Why it last stopped: `idle`, `manual`, `crashed`, `host-restart`, … */
  readonly reason: string | null;
  readonly error: string | null;
  readonly lastActiveAt: number;
  readonly createdAt: number;
}

/**
 * The `vms` table. Every state change is a compare-and-set on the current state, so two managers (or a
 * manager and the reconciler) racing on one VM cannot both win a transition.
 */
export class VmRecords {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async get(name: string): Promise<VmRecord | undefined> {
    const row = await this.#db.selectFrom("vms").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(): Promise<VmRecord[]> {
    return (await this.#db.selectFrom("vms").selectAll().orderBy("name").execute()).map(toRecord);
  }

  /** Inserts a new record in `creating`, or returns the existing one (a retry or a racing manager). */
  async create(input: { name: string; kind: VmRecord["kind"]; userId: string; host: string }) {
    const now = this.#now();
    await this.#db
      .insertInto("vms")
      .values({
        name: input.name,
        kind: input.kind,
        user_id: input.userId,
        host: input.host,
        state: "creating",
        state_since: now,
        reason: null,
        error: null,
        last_active_at: now,
        created_at: now,
      })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const record = await this.get(input.name);
    if (!record) throw new Error(`vm record ${input.name} vanished after insert`);
    return record;
  }

  /** Moves `name` to `to` if it is in one of `from`; returns whether it did. */
  async transition(
    name: string,
    from: readonly VmState[],
    to: VmState,
    details: { reason?: string | null; error?: string | null } = {},
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable("vms")
      .set({
        state: to,
        state_since: this.#now(),
        ...(details.reason !== undefined && { reason: details.reason }),
        error: details.error ?? null,
      })
      .where("name", "=", name)
      .where("state", "in", [...from])
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touch(name: string, at = this.#now()): Promise<void> {
    await this.#db
      .updateTable("vms")
      .set({ last_active_at: at })
      .where("name", "=", name)
      .where("last_active_at", "<", at)
      .execute();
  }

  async delete(name: string): Promise<void> {
    await this.#db.deleteFrom("vms").where("name", "=", name).execute();
  }

  /**
   * Takes or renews the lease `name` for `holder` until now + `ttlMs`; false while another holder's lease
   * is unexpired. One conditional update, so two processes can never both hold it.
   */
  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    await this.#db
      .insertInto("leases")
      .values({ name, holder, expires_at: 0 })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const result = await this.#db
      .updateTable("leases")
      .set({ holder, expires_at: now + ttlMs })
      .where("name", "=", name)
      .where((eb) => eb.or([eb("holder", "=", holder), eb("expires_at", "<", now)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Agents per host that occupy room there (anything not asleep). */
  async loadByHost(): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom("vms")
      .select(["host", (eb) => eb.fn.countAll<number>().as("n")])
      .where("state", "in", ["creating", "starting", "running", "stopping"])
      .groupBy("host")
      .execute();
    return new Map(rows.map((r) => [r.host, Number(r.n)]));
  }
}

function toRecord(row: VmsTable): VmRecord {
  return {
    name: row.name,
    kind: row.kind,
    userId: row.user_id,
    host: row.host,
    state: row.state,
    stateSince: Number(row.state_since),
    reason: row.reason,
    error: row.error,
    lastActiveAt: Number(row.last_active_at),
    createdAt: Number(row.created_at),
  };
}
