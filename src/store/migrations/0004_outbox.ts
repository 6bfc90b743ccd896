import { sql } from "kysely";
import type { Migration } from "./index.ts";

/**
 * The outbox: every reply, recorded under its idempotency key before anything is sent (DESIGN §3.4).
 * A dispatcher leases the oldest pending message of a conversation (`lease_*`), sends it chunk by chunk,
 * counts the chunks delivered (`chunks_sent`) so a crash resumes with the next one, and marks it sent.
 */
export const outbox: Migration = {
  name: "0004_outbox",
  async up(db, dialect) {
    await db.schema
      .createTable("outbox")
      .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (c) =>
        dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
      .addColumn("platform", "text", (c) => c.notNull())
      .addColumn("conversation_key", "text", (c) => c.notNull())
      .addColumn("reply", "text", (c) => c.notNull())
      .addColumn("inbound_received_at", "bigint", (c) => c.notNull())
      .addColumn("text", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'sent', 'failed')`))
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("chunks_sent", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
      .addColumn("sent_at", "bigint")
      .addColumn("last_error", "text")
      .addColumn("lease_owner", "text")
      .addColumn("lease_token", "text")
      .addColumn("lease_expires_at", "bigint")
      .execute();
    // The dispatcher's scan: due pending messages, oldest first.
    await db.schema
      .createIndex("outbox_due")
      .on("outbox")
      .columns(["status", "next_attempt_at", "id"])
      .execute();
    // Order within a conversation: is there an older unsent message ahead of this one?
    await db.schema
      .createIndex("outbox_conversation")
      .on("outbox")
      .columns(["conversation_key", "status", "id"])
      .execute();
  },
};
