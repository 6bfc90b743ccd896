import type { Migration } from "./index.ts";

/**
 * The router's record of each turn: which inbox items it answers, on which agent, and how to reply. Written
 * before the turn is sent, so a router that crashes and re-claims the conversation resumes the same turn
 * (same id, same items) instead of starting a second one.
 */
export const turns: Migration = {
  name: "0005_turns",
  async up(db) {
    await db.schema
      .createTable("turns")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("conversation_key", "text", (c) => c.notNull())
      .addColumn("agent", "text", (c) => c.notNull())
      .addColumn("user_id", "text", (c) => c.notNull())
      /** JSON array of inbox item ids, in order. */
      .addColumn("item_ids", "text", (c) => c.notNull())
      /** JSON: platform, reply context, inbound received time, language — what a reply needs. */
      .addColumn("reply", "text", (c) => c.notNull())
      .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(1))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("finished_at", "bigint")
      .execute();
    await db.schema.createIndex("turns_open").on("turns").columns(["conversation_key", "status"]).execute();
  },
};
