import type { Migration } from "./index.ts";

/**
 * Named leases for work that one process of a deployment must do alone (the VM supervisor's idle policy
 * and reconciler): whoever holds an unexpired lease does it; a holder that dies is replaced once it lapses.
 */
export const leases: Migration = {
  name: "0011_leases",
  async up(db) {
    await db.schema
      .createTable("leases")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();
  },
};
