import type { Migration } from "./index.ts";

/**
 * Delivery that feels native (issue 6):
 * - `outbox.extras`: what a reply carries besides its text (buttons, the live message it finishes, a
 *   notice for one person), as JSON.
 * - `live_messages`: the message a turn streams into (Slack stream, Discord or Telegram message being
 *   edited), so a restarted process keeps editing it and the final answer replaces it instead of
 *   appearing a second time.
 */
export const delivery: Migration = {
  name: "0010_delivery",
  async up(db) {
    await db.schema.alterTable("outbox").addColumn("extras", "text").execute();
    await db.schema
      .createTable("live_messages")
      .addColumn("stream_key", "text", (c) => c.primaryKey())
      .addColumn("platform", "text", (c) => c.notNull())
      .addColumn("conversation_key", "text", (c) => c.notNull())
      /** JSON: the platform's handle on the message (id, ts, draft id, chain of stream ts). */
      .addColumn("ref", "text", (c) => c.notNull())
      /** The text the message shows (or the stream has received) so far. */
      .addColumn("text", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },
};
