import { type RawBuilder, sql } from "kysely";
import type { Migration } from "./index.ts";

/** Users, their platform identities, and conversations with the agent session each one resumes. */
export const initial: Migration = {
  name: "0001_initial",
  async up(db) {
    await db.schema
      .createTable("users")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("display_name", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("identities")
      .addColumn("platform", "text", (c) => c.notNull())
      .addColumn("platform_user_id", "text", (c) => c.notNull())
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("display_name", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("identities_pk", ["platform", "platform_user_id"])
      .execute();
    await db.schema.createIndex("identities_user_id").on("identities").column("user_id").execute();

    await db.schema
      .createTable("conversations")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("platform", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull().check(sqlIn("kind", ["dm", "group"])))
      .addColumn("title", "text")
      .addColumn("agent_session_id", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
      .execute();
  },
};

function sqlIn(column: string, values: readonly string[]): RawBuilder<unknown> {
  return sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;
}
