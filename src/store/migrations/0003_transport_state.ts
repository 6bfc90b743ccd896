import type { Migration } from "./index.ts";

/** Small durable cursors of the long-lived transports (e.g. a Discord Gateway session and sequence). */
export const transportState: Migration = {
  name: "0003_transport_state",
  async up(db) {
    await db.schema
      .createTable("transport_state")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },
};
