import { mkdirSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import { Migrator } from "kysely/migration";
import pg from "pg";
import type { DatabaseConfig } from "../config/index.ts";
import { migrationProvider } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

/** An open connection (pool) to the store's database, shared by every repository over it. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly migrator: Migrator;
  /**
   * The SQLite connection under Kysely (SQLite only), for hot paths that run whole transactions
   * synchronously with cached statements. Use it only inside `db.connection().execute(…)`, which holds
   * Kysely's connection lock, so it never interleaves with a Kysely transaction.
   */
  readonly sqlite?: SQLite.Database;
}

const PG_INT8_OID = 20;

/**
 * Opens SQLite (creating its directory) or a PostgreSQL pool. Nothing is migrated here; call
 * `migrateToLatest`. Every external call has a timeout (DESIGN §3.9): connect and statement timeouts on
 * PostgreSQL, a busy timeout on SQLite.
 */
export function openDatabase(config: DatabaseConfig): DatabaseHandle {
  let db: Kysely<Database>;
  let sqlite: SQLite.Database | undefined;
  if (config.kind === "sqlite") {
    mkdirSync(path.dirname(config.path), { recursive: true });
    sqlite = new SQLite(config.path, { timeout: 5_000 });
    // WAL lets readers run beside the writer. synchronous=NORMAL: a commit survives a crash of the process
    // (the OS has it) but is fsync'd only at the next FULL commit or checkpoint. The inbox's enqueue, whose
    // commit is what a webhook's 2xx promises, switches to FULL for its own transactions (sqlite-inbox.ts),
    // and that fsync also covers every commit before it. Everything else (leases, turn records, the
    // outbox) is replayed idempotently, so losing its last milliseconds to a power cut is harmless.
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  } else {
    const pool = new pg.Pool({
      connectionString: config.url,
      max: 10,
      connectionTimeoutMillis: 5_000,
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
      // BIGINT columns hold millisecond times, well inside Number's exact range.
      types: {
        getTypeParser: (oid: number, format?: "text" | "binary") =>
          oid === PG_INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? "text"),
      } as pg.CustomTypesConfig,
    });
    // An idle client losing its connection emits 'error' on the pool; without a listener that kills the process.
    pool.on("error", () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const migrator = new Migrator({ db, provider: migrationProvider(config.kind) });
  return sqlite ? { db, dialect: config.kind, migrator, sqlite } : { db, dialect: config.kind, migrator };
}

export interface MigrationReport {
  readonly applied: string[];
}

/** Applies every pending migration in one go; safe to call from several processes at once. */
export async function migrateToLatest(handle: DatabaseHandle): Promise<MigrationReport> {
  const { error, results } = await handle.migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new Error(
      `Database migration ${failed ?? ""} failed: ${(error as Error).message ?? String(error)}`,
      {
        cause: error,
      },
    );
  }
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}
