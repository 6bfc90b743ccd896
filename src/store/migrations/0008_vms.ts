import type { Migration } from "./index.ts";

/**
 * What the VM Manager knows about each agent container (switchboards and project VMs): where it lives,
 * its lifecycle state and when it was last active. The engines are compared with this table by the
 * reconciler; a transitional state older than its deadline is repaired there.
 */
export const vms: Migration = {
  name: "0008_vms",
  async up(db) {
    await db.schema
      .createTable("vms")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("host", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("state_since", "bigint", (c) => c.notNull())
      /** Why it last went to sleep: idle, manual, crashed, … (shown in /status). */
      .addColumn("reason", "text")
      .addColumn("error", "text")
      .addColumn("last_active_at", "bigint", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("vms_host").on("vms").columns(["host", "state"]).execute();
  },
};
