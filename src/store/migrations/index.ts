import type { Kysely } from "kysely";
import type { Migration as KyselyMigration, MigrationProvider } from "kysely/migration";
import { initial } from "./0001_initial.ts";
import { inbox } from "./0002_inbox.ts";
import { transportState } from "./0003_transport_state.ts";
import { outbox } from "./0004_outbox.ts";
import { turns } from "./0005_turns.ts";
import { projects } from "./0006_projects.ts";
import { agentSessions } from "./0007_agent_sessions.ts";
import { vms } from "./0008_vms.ts";
import { identity } from "./0009_identity.ts";
import { delivery } from "./0010_delivery.ts";
import { leases } from "./0011_leases.ts";
import { environments } from "./0012_environments.ts";
import { buildRequestKeys } from "./0013_build_request_keys.ts";

/**
 * A schema change. Rules: migrations are append-only (never edit one that has shipped), names sort in
 * order, and each one runs on both SQLite and PostgreSQL; branch on `dialect` only where SQL differs.
 */
export interface Migration {
  readonly name: string;
  // Migrations see the database as it was when they were written, not today's `Database` type.
  up(db: Kysely<unknown>, dialect: "sqlite" | "postgres"): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  initial,
  inbox,
  transportState,
  outbox,
  turns,
  projects,
  agentSessions,
  vms,
  identity,
  delivery,
  leases,
  environments,
  buildRequestKeys,
];

export function migrationProvider(dialect: "sqlite" | "postgres"): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, KyselyMigration> = {};
      for (const m of MIGRATIONS) out[m.name] = { up: (db) => m.up(db as Kysely<unknown>, dialect) };
      return out;
    },
  };
}
