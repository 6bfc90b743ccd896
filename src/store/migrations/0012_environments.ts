import type { Migration } from "./index.ts";

/**
 * From chat to a running project (issue 7):
 * - `projects`: the branch a VM clones and the environment image it runs (a pullable reference, with its
 *   digest when it went through a registry), with the revision it was built from.
 * - `project_members`: people besides the owner who may talk to a project's VM and approve its tools.
 * - `builds`: the Build Service's durable jobs, so a build accepted from chat survives a crash of the
 *   process running it (a lapsed lease is taken over and the build runs again).
 * - `conversation_participants` and `conversations.reply`: who has spoken where, and how to reach a chat
 *   later (a binding removed elsewhere is announced there).
 */
export const environments: Migration = {
  name: "0012_environments",
  async up(db) {
    await db.schema.alterTable("projects").addColumn("branch", "text").execute();
    await db.schema.alterTable("projects").addColumn("image", "text").execute();
    await db.schema.alterTable("projects").addColumn("revision", "text").execute();
    await db.schema.alterTable("projects").addColumn("built_at", "bigint").execute();
    await db.schema
      .createTable("project_members")
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("added_by_user_id", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("project_members_pk", ["project_id", "user_id"])
      .execute();
    await db.schema.createIndex("project_members_user").on("project_members").column("user_id").execute();
    await db.schema
      .createTable("builds")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("notify", "text")
      .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("holder", "text")
      .addColumn("lease_expires_at", "bigint")
      .addColumn("step", "text")
      .addColumn("image", "text")
      .addColumn("revision", "text")
      .addColumn("error", "text")
      .addColumn("log", "text")
      .addColumn("dockerfile", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("finished_at", "bigint")
      .execute();
    await db.schema.createIndex("builds_status").on("builds").columns(["status", "created_at"]).execute();
    await db.schema
      .createIndex("builds_project")
      .on("builds")
      .columns(["project_id", "created_at"])
      .execute();
    await db.schema.alterTable("conversations").addColumn("reply", "text").execute();
    await db.schema
      .createTable("conversation_participants")
      .addColumn("conversation_key", "text", (c) => c.notNull())
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("display_name", "text")
      .addColumn("last_seen_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("conversation_participants_pk", ["conversation_key", "user_id"])
      .execute();
    await db.schema
      .createIndex("conversation_participants_user")
      .on("conversation_participants")
      .column("user_id")
      .execute();
  },
};
