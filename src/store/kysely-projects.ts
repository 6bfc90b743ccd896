import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConflictError } from "../shared/errors.ts";
import type { Binding, Project, ProjectRepository } from "./port.ts";
import type { BindingsTable, Database, ProjectsTable } from "./schema.ts";

export const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export class KyselyProjects implements ProjectRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  async create(input: { name: string; ownerUserId: string; repoUrl?: string | null }): Promise<Project> {
    if (!PROJECT_NAME.test(input.name)) {
      throw new Error(`invalid project name ${JSON.stringify(input.name)}: use a-z, 0-9 and -, at most 40`);
    }
    const row: ProjectsTable = {
      id: randomUUID(),
      name: input.name,
      owner_user_id: input.ownerUserId,
      repo_url: input.repoUrl ?? null,
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
