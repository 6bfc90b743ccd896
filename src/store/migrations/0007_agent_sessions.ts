import type { Migration } from "./index.ts";

/**
 * The Claude Code session each conversation resumes, per agent: a group's conversation has one session in
 * the project VM it is bound to and others in its members' switchboards, and a session id only means
 * something to the agent whose volume holds its transcript. (Replaces conversations.agent_session_id,
 * which is no longer read.)
 */
export const agentSessions: Migration = {
  name: "0007_agent_sessions",
  async up(db) {
    await db.schema
      .createTable("agent_sessions")
      .addColumn("conversation_key", "text", (c) =>
        c.notNull().references("conversations.key").onDelete("cascade"),
      )
      .addColumn("agent", "text", (c) => c.notNull())
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("agent_sessions_pk", ["conversation_key", "agent"])
      .execute();
  },
};
