import type { Migration } from "./index.ts";

/**
 * People and their keys: each person's credentials (sealed values, never plain text), their access to
 * this server (active, suspended, removed; whether the server's own credential serves them), and the
 * one-time codes of /link, /invite and /connect (stored as hashes only).
 */
export const identity: Migration = {
  name: "0009_identity",
  async up(db) {
    await db.schema
      .createTable("credentials")
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id"))
      .addColumn("slot", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("credentials_pk", ["user_id", "slot"])
      .execute();
    await db.schema.createIndex("credentials_key_id").on("credentials").column("key_id").execute();
    await db.schema
      .createTable("user_access")
      .addColumn("user_id", "text", (c) => c.primaryKey().references("users.id"))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("server_credential", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("invited_by", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("one_time_codes")
      .addColumn("code_hash", "text", (c) => c.primaryKey())
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("data", "text")
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("used_at", "bigint")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("one_time_codes_user")
      .on("one_time_codes")
      .columns(["user_id", "purpose"])
      .execute();
  },
};
