import { sql } from "kysely";
import type { Migration } from "./index.ts";

/**
 * The inbox: every accepted inbound event (unique per platform event id, which is the dedupe), and one row
 * per conversation holding its lease and when its head item is next ready.
 */
export const inbox: Migration = {
  name: "0002_inbox",
  async up(db, dialect) {
    await db.schema
      .createTable("inbox_items")
      .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (c) =>
        dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn("platform", "text", (c) => c.notNull())
      .addColumn("event_id", "text", (c) => c.notNull())
      .addColumn("conversation_key", "text", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'done', 'dead')`))
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("available_at", "bigint", (c) => c.notNull())
      .addColumn("received_at", "bigint", (c) => c.notNull())
      .addColumn("finished_at", "bigint")
      .addColumn("last_error", "text")
      .addUniqueConstraint("inbox_items_dedupe", ["platform", "event_id"])
      .execute();
    await db.schema
      .createIndex("inbox_items_head")
      .on("inbox_items")
      .columns(["conversation_key", "status", "id"])
      .execute();
    await db.schema
      .createIndex("inbox_items_finished")
      .on("inbox_items")
      .columns(["status", "finished_at"])
      .execute();

    await db.schema
      .createTable("inbox_conversations")
      .addColumn("key", "text", (c) => c.primaryKey())
      // available_at of the conversation's oldest pending item; null when nothing is pending.
      .addColumn("ready_at", "bigint")
      .addColumn("lease_owner", "text")
      .addColumn("lease_token", "text")
      .addColumn("lease_expires_at", "bigint")
      .execute();
    await db.schema
      .createIndex("inbox_conversations_ready")
      .on("inbox_conversations")
      .column("ready_at")
      .execute();
  },
};
