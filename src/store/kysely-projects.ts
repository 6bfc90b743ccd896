import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConflictError } from "../shared/errors.ts";
import type { Binding, Project, ProjectMember, ProjectRepository } from "./port.ts";
import type { BindingsTable, Database, ProjectsTable } from "./schema.ts";

export const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export class KyselyProjects implements ProjectRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async create(input: {
    name: string;
    ownerUserId: string;
    repoUrl?: string | null;
    branch?: string | null;
  }): Promise<Project> {
    if (!PROJECT_NAME.test(input.name)) {
      throw new Error(`invalid project name ${JSON.stringify(input.name)}: use a-z, 0-9 and -, at most 40`);
    }
    const row: ProjectsTable = {
      id: randomUUID(),
      name: input.name,
      owner_user_id: input.ownerUserId,
      repo_url: input.repoUrl ?? null,
      branch: input.branch ?? null,
      image: null,
      revision: null,
      built_at: null,
      created_at: this.#now(),
    };
    const inserted = await this.#db
      .insertInto("projects")
      .values(row)
      .onConflict((oc) => oc.column("name").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) throw new ConflictError(`a project named ${input.name} already exists`);
    return toProject(inserted);
  }

  async get(id: string): Promise<Project | undefined> {
    const row = await this.#db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toProject(row);
  }

  async byName(name: string): Promise<Project | undefined> {
    const row = await this.#db.selectFrom("projects").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toProject(row);
  }

  async list(): Promise<Project[]> {
    return (await this.#db.selectFrom("projects").selectAll().orderBy("name").execute()).map(toProject);
  }

  async listFor(userId: string): Promise<Project[]> {
    const rows = await this.#db
      .selectFrom("projects")
      .selectAll()
      .where((eb) =>
        eb.or([
          eb("owner_user_id", "=", userId),
          eb("id", "in", eb.selectFrom("project_members").select("project_id").where("user_id", "=", userId)),
        ]),
      )
      .orderBy("name")
      .execute();
    return rows.map(toProject);
  }

  async setImage(id: string, image: { image: string; revision: string }): Promise<void> {
    await this.#db
      .updateTable("projects")
      .set({ image: image.image, revision: image.revision, built_at: this.#now() })
      .where("id", "=", id)
      .execute();
  }

  async delete(id: string): Promise<string[]> {
    return this.#db.transaction().execute(async (tx) => {
      const bound = await tx
        .selectFrom("bindings")
        .select("conversation_key")
        .where("project_id", "=", id)
        .execute();
      // Explicitly, not by cascade: SQLite enforces foreign keys only when asked to.
      await tx.deleteFrom("bindings").where("project_id", "=", id).execute();
      await tx.deleteFrom("project_members").where("project_id", "=", id).execute();
      await tx.deleteFrom("builds").where("project_id", "=", id).execute();
      await tx.deleteFrom("projects").where("id", "=", id).execute();
      return bound.map((b) => b.conversation_key);
    });
  }

  async mayUse(projectId: string, userId: string): Promise<boolean> {
    const project = await this.get(projectId);
    if (!project) return false;
    if (project.ownerUserId === userId) return true;
    const row = await this.#db
      .selectFrom("project_members")
      .select("user_id")
      .where("project_id", "=", projectId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async members(projectId: string): Promise<ProjectMember[]> {
    const rows = await this.#db
      .selectFrom("project_members")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({
      projectId: r.project_id,
      userId: r.user_id,
      addedByUserId: r.added_by_user_id,
      createdAt: r.created_at,
    }));
  }

  async addMember(projectId: string, userId: string, byUserId: string): Promise<boolean> {
    const inserted = await this.#db
      .insertInto("project_members")
      .values({ project_id: projectId, user_id: userId, added_by_user_id: byUserId, created_at: this.#now() })
      .onConflict((oc) => oc.columns(["project_id", "user_id"]).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async removeMember(projectId: string, userId: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("project_members")
      .where("project_id", "=", projectId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async bindingsOf(projectId: string): Promise<Binding[]> {
    const rows = await this.#db
      .selectFrom("bindings")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at")
      .execute();
    return rows.map(toBinding);
  }

  async bind(conversationKey: string, projectId: string, byUserId: string): Promise<Binding> {
    const row: BindingsTable = {
      conversation_key: conversationKey,
      project_id: projectId,
      bound_by_user_id: byUserId,
      created_at: this.#now(),
    };
    await this.#db
      .insertInto("bindings")
      .values(row)
      .onConflict((oc) =>
        oc.column("conversation_key").doUpdateSet({
          project_id: projectId,
          bound_by_user_id: byUserId,
          created_at: row.created_at,
        }),
      )
      .execute();
    return toBinding(row);
  }

  async unbind(conversationKey: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("bindings")
      .where("conversation_key", "=", conversationKey)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async bindingOf(conversationKey: string): Promise<Binding | undefined> {
    const row = await this.#db
      .selectFrom("bindings")
      .selectAll()
      .where("conversation_key", "=", conversationKey)
      .executeTakeFirst();
    return row && toBinding(row);
  }
}

function toProject(row: ProjectsTable): Project {
  return {
    id: row.id,
    name: row.name,
    ownerUserId: row.owner_user_id,
    repoUrl: row.repo_url,
    branch: row.branch,
    image: row.image,
    revision: row.revision,
    builtAt: row.built_at,
    createdAt: row.created_at,
  };
}

function toBinding(row: BindingsTable): Binding {
  return {
    conversationKey: row.conversation_key,
    projectId: row.project_id,
    boundByUserId: row.bound_by_user_id,
    createdAt: row.created_at,
  };
}
