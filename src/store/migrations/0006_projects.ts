import type { Migration } from "./index.ts";

/** Projects (each with its VM) and the bindings of conversations to them. */
export const projects: Migration = {
  name: "0006_projects",
  async up(db) {
    await db.schema
      .createTable("projects")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("owner_user_id", "text", (c) => c.notNull().references("users.id"))
      .addColumn("repo_url", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("bindings")
      .addColumn("conversation_key", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      .addColumn("bound_by_user_id", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("bindings_project").on("bindings").column("project_id").execute();
  },
};
