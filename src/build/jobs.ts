import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { ReplyContext } from "../ingress/event.ts";
import type { Language } from "../router/messages.ts";
import type { Platform } from "../store/port.ts";
import type { BuildsTable, Database } from "../store/schema.ts";
import type { BuildSource } from "./port.ts";

/** Where a build's progress and outcome are posted: a chat (the `TurnReply` of the asking message). */
export interface BuildNotify {
  readonly platform: Platform;
  readonly conversationKey: string;
  readonly reply: ReplyContext;
  readonly inboundReceivedAt: number;
  readonly language: Language;
}

export type BuildStatus = BuildsTable["status"];

export interface BuildRecord {
  id: string;
  projectId: string;
  userId: string;
  status: BuildStatus;
  source: BuildSource;
  /** Runs started so far (a run cut short by a crash is taken over and counted again). */
  attempt: number;
  /** The last progress line, e.g. `step 3/7: RUN npm ci`. */
  step: string | null;
  /** The pullable reference recorded as the project's image (succeeded builds). */
  image: string | null;
  revision: string | null;
  error: string | null;
  /** The last lines of the build log (failed builds). */
  log: string | null;
  /** The Dockerfile the project stage was built from. */
  dockerfile: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** A build as the workers see it: the record plus where to report and who holds it. */
export interface BuildJob extends BuildRecord {
  notify: BuildNotify | null;
  holder: string | null;
  leaseExpiresAt: number | null;
}

export type BuildOutcome =
  | {
      readonly status: "succeeded";
      readonly image: string;
      readonly revision: string;
      readonly dockerfile: string | null;
    }
  | {
      readonly status: "failed";
      readonly error: string;
      readonly log: string | null;
      readonly revision?: string | null;
      readonly dockerfile?: string | null;
    };

const ACTIVE: BuildStatus[] = ["queued", "running"];

/**
 * The `builds` table: the Build Service's durable jobs. A build is queued, then claimed by one worker
 * under a lease (renewed while it runs), then finished by that worker. Every change after the claim names
 * the holder and is a compare-and-set on it, so a worker that lost its lease (it stalled, another took the
 * build over) can change nothing; a lapsed lease (its holder died) makes the build claimable again, with
 * `attempt` counting the runs. Same SQL on SQLite and PostgreSQL.
 */
export class BuildJobs {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Queues a build of the project, unless one is queued or running, or one was made for the same
   * `requestKey` (a request handled again after a crash): then that one is returned with `created: false`.
   * Atomic per project: the transaction starts by writing the project's row, which locks it on PostgreSQL
   * and takes SQLite's write lock, so two requests cannot both see "none active".
   */
  async create(input: {
    projectId: string;
    userId: string;
    source: BuildSource;
    notify?: BuildNotify | null | undefined;
    requestKey?: string | undefined;
  }): Promise<{ job: BuildJob; created: boolean; repeated: boolean }> {
    const id = randomUUID();
    const now = this.#now();
    const created = await this.#db.transaction().execute(async (tx) => {
      const locked = await tx
        .updateTable("projects")
        .set((eb) => ({ id: eb.ref("id") }))
        .where("id", "=", input.projectId)
        .executeTakeFirst();
      if (locked.numUpdatedRows === 0n) throw new Error(`no project with id ${input.projectId}`);
      if (input.requestKey !== undefined) {
        const same = await tx
          .selectFrom("builds")
          .select("id")
          .where("request_key", "=", input.requestKey)
          .executeTakeFirst();
        if (same) return { id: same.id, created: false, repeated: true };
      }
      const active = await tx
        .selectFrom("builds")
        .select("id")
        .where("project_id", "=", input.projectId)
        .where("status", "in", ACTIVE)
        .orderBy("created_at")
        .executeTakeFirst();
      if (active) return { id: active.id, created: false, repeated: false };
      await tx
        .insertInto("builds")
        .values({
          id,
          project_id: input.projectId,
          user_id: input.userId,
          status: "queued",
          source: JSON.stringify(input.source),
          notify: input.notify ? JSON.stringify(input.notify) : null,
          request_key: input.requestKey ?? null,
          holder: null,
          lease_expires_at: null,
          step: null,
          image: null,
          revision: null,
          error: null,
          log: null,
          dockerfile: null,
          created_at: now,
          started_at: null,
          finished_at: null,
        })
        .execute();
      return { id, created: true, repeated: false };
    });
    const job = await this.get(created.id);
    if (!job) throw new Error(`build ${created.id} vanished`);
    return { job, created: created.created, repeated: created.repeated };
  }

  async get(id: string): Promise<BuildJob | undefined> {
    const row = await this.#db.selectFrom("builds").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toJob(row);
  }

  /** The project's most recent build, whatever its status. */
  async latest(projectId: string): Promise<BuildJob | undefined> {
    const row = await this.#db
      .selectFrom("builds")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .executeTakeFirst();
    return row && toJob(row);
  }

  /** The project's queued or running build, if any. */
  async active(projectId: string): Promise<BuildJob | undefined> {
    const row = await this.#db
      .selectFrom("builds")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("status", "in", ACTIVE)
      .orderBy("created_at")
      .executeTakeFirst();
    return row && toJob(row);
  }

  /** Builds finished since `since` that report to a chat (to post an outcome a crash may have swallowed). */
  async finishedSince(since: number): Promise<BuildJob[]> {
    const rows = await this.#db
      .selectFrom("builds")
      .selectAll()
      .where("status", "in", ["succeeded", "failed"])
      .where("finished_at", ">=", since)
      .where("notify", "is not", null)
      .orderBy("finished_at")
      .execute();
    return rows.map(toJob);
  }

  /**
   * Takes the oldest claimable build for `holder` until now + `leaseMs`: a queued one, or a running one
   * whose lease has lapsed (its holder died). A compare-and-set on the row as read, so of any number of
   * racing claimers exactly one gets each build. Counts the attempt and sets `started_at`.
   */
  async claim(holder: string, leaseMs: number): Promise<BuildJob | undefined> {
    for (let tries = 0; tries < 5; tries++) {
      const now = this.#now();
      const candidate = await this.#db
        .selectFrom("builds")
        .selectAll()
        .where((eb) =>
          eb.or([
            eb("status", "=", "queued"),
            eb.and([eb("status", "=", "running"), eb("lease_expires_at", "<", now)]),
          ]),
        )
        .orderBy("created_at")
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
      if (!candidate) return undefined;
      const job = await this.#take(toJob(candidate), holder, leaseMs, now);
      if (job) return job;
    }
    return undefined;
  }

  /**
   * Takes this build for `holder` if it is claimable (queued, or running under a lapsed lease).
   * `held`: someone else holds a live lease on it; `finished`: it is done already.
   */
  async claimById(
    id: string,
    holder: string,
    leaseMs: number,
  ): Promise<{ taken: BuildJob } | { held: BuildJob } | { finished: BuildJob } | { missing: true }> {
    for (let tries = 0; tries < 5; tries++) {
      const now = this.#now();
      const current = await this.get(id);
      if (!current) return { missing: true };
      if (current.status === "succeeded" || current.status === "failed") return { finished: current };
      if (current.status === "running" && (current.leaseExpiresAt ?? 0) >= now) return { held: current };
      const taken = await this.#take(current, holder, leaseMs, now);
      if (taken) return { taken };
    }
    const current = await this.get(id);
    return current ? { held: current } : { missing: true };
  }

  async #take(job: BuildJob, holder: string, leaseMs: number, now: number): Promise<BuildJob | undefined> {
    const result = await this.#db
      .updateTable("builds")
      .set((eb) => ({
        status: "running",
        holder,
        lease_expires_at: now + leaseMs,
        attempt: eb("attempt", "+", 1),
        started_at: now,
      }))
      .where("id", "=", job.id)
      .where("attempt", "=", job.attempt)
      .where((eb) =>
        eb.or([
          eb("status", "=", "queued"),
          eb.and([eb("status", "=", "running"), eb("lease_expires_at", "<", now)]),
        ]),
      )
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    return {
      ...job,
      status: "running",
      holder,
      leaseExpiresAt: now + leaseMs,
      attempt: job.attempt + 1,
      startedAt: now,
    };
  }

  /**
   * Renews `holder`'s lease every third of it while a run goes on: `onLost` once another worker has the
   * build, `onError` when a renewal could not be written. Returns the function that stops renewing.
   */
  keepLease(
    id: string,
    holder: string,
    leaseMs: number,
    handlers: { onLost: () => void; onError: (error: unknown) => void },
  ): () => void {
    const timer = setInterval(
      () => {
        this.extend(id, holder, leaseMs).then((held) => {
          if (!held) handlers.onLost();
        }, handlers.onError);
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Renews `holder`'s lease until now + `leaseMs`; false when the build is no longer theirs. */
  async extend(id: string, holder: string, leaseMs: number): Promise<boolean> {
    const result = await this.#db
      .updateTable("builds")
      .set({ lease_expires_at: this.#now() + leaseMs })
      .where("id", "=", id)
      .where("holder", "=", holder)
      .where("status", "=", "running")
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Gives the lease up at once (an orderly stop), so the next claim takes the build over. */
  async release(id: string, holder: string): Promise<boolean> {
    const result = await this.#db
      .updateTable("builds")
      .set({ lease_expires_at: 0 })
      .where("id", "=", id)
      .where("holder", "=", holder)
      .where("status", "=", "running")
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Records the step being built; false when the build is no longer `holder`'s. */
  async progress(id: string, holder: string, step: string): Promise<boolean> {
    const result = await this.#db
      .updateTable("builds")
      .set({ step })
      .where("id", "=", id)
      .where("holder", "=", holder)
      .where("status", "=", "running")
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Ends `holder`'s run with its outcome; false (nothing changed) when the build is no longer theirs. */
  async finish(id: string, holder: string, outcome: BuildOutcome): Promise<boolean> {
    const base = {
      status: outcome.status,
      lease_expires_at: null,
      finished_at: this.#now(),
    } as const;
    const values =
      outcome.status === "succeeded"
        ? {
            ...base,
            image: outcome.image,
            revision: outcome.revision,
            dockerfile: outcome.dockerfile,
            error: null,
            log: null,
          }
        : {
            ...base,
            error: outcome.error,
            log: outcome.log,
            ...(outcome.revision !== undefined && { revision: outcome.revision }),
            ...(outcome.dockerfile !== undefined && { dockerfile: outcome.dockerfile }),
          };
    const result = await this.#db
      .updateTable("builds")
      .set(values)
      .where("id", "=", id)
      .where("holder", "=", holder)
      .where("status", "=", "running")
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

/** The public part of a job (no reply context, no holder). */
export function toRecord(job: BuildJob): BuildRecord {
  const { notify: _notify, holder: _holder, leaseExpiresAt: _lease, ...record } = job;
  return record;
}

function toJob(row: Selectable<BuildsTable>): BuildJob {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: row.id,
    projectId: row.project_id,
    userId: row.user_id,
    status: row.status,
    source: JSON.parse(row.source) as BuildSource,
    attempt: Number(row.attempt),
    step: row.step,
    image: row.image,
    revision: row.revision,
    error: row.error,
    log: row.log,
    dockerfile: row.dockerfile,
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    finishedAt: num(row.finished_at),
    notify: row.notify ? (JSON.parse(row.notify) as BuildNotify) : null,
    holder: row.holder,
    leaseExpiresAt: num(row.lease_expires_at),
  };
}
