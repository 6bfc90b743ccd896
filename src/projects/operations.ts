import { repositoryUrlProblem } from "../build/git.ts";
import type { BuildRecord, BuildService } from "../build/index.ts";
import type { BuildSource } from "../build/port.ts";
import type { MessageKey } from "../router/messages.ts";
import type { TurnReply } from "../router/turn-store.ts";
import { ConflictError } from "../shared/errors.ts";
import { PLATFORMS, type Platform, type Project, type Store } from "../store/index.ts";
import { PROJECT_NAME } from "../store/kysely-projects.ts";
import { projectAgent } from "../vm/names.ts";
import type { ContainerRuntime } from "../vm/port.ts";

/**
 * What people do with their projects, whichever way they ask: a switchboard tool, a chat command or the
 * CLI. Every operation takes the acting user and checks their authority first (DESIGN §3.8): a project is
 * visible to its owner and members only (to anyone else it does not exist), and only its owner may change
 * who is in it, delete it, or stop its VM under the others' feet. Failures are `ProjectError`s carrying a
 * catalog message, so each caller can say them in the person's language (or as the tool's result).
 */
export class ProjectError extends Error {
  readonly key: MessageKey;
  readonly params: Record<string, string | number>;
  constructor(key: MessageKey, params: Record<string, string | number> = {}) {
    super(`${key} ${JSON.stringify(params)}`);
    this.name = "ProjectError";
    this.key = key;
    this.params = params;
  }
}

export interface ProjectOpsDeps {
  readonly store: Store;
  readonly runtime: ContainerRuntime;
  /** Absent where environments cannot be built (the process runtime). */
  readonly builds?: BuildService | undefined;
  /** Agents with a turn in progress (never stopped or deleted under it). */
  busyAgents(): Promise<Set<string>>;
  /** Closes our bridge to an agent before it is stopped or deleted on purpose. */
  dropConnection(agent: string): Promise<void>;
  /** Starts a project VM (creating it from the project's image when needed). */
  wake(project: Project): Promise<void>;
  /** Tells a chat something, once per `key`, in that chat's language. */
  announce(
    conversationKey: string,
    key: string,
    msg: MessageKey,
    params?: Record<string, string | number>,
  ): Promise<void>;
}

export interface ProjectSummary {
  readonly name: string;
  readonly role: "owner" | "member";
  readonly repo: string | null;
  readonly branch: string | null;
  readonly environment: { readonly revision: string; readonly builtAt: number } | null;
  readonly vm: string;
  readonly lastBuild: {
    readonly status: string;
    readonly step: string | null;
    readonly error: string | null;
  } | null;
  readonly boundChats: readonly string[];
  readonly members: number;
}

const BRANCH = /^[A-Za-z0-9._/-]{1,200}$/;

export class ProjectOps {
  readonly #deps: ProjectOpsDeps;
  constructor(deps: ProjectOpsDeps) {
    this.#deps = deps;
  }

  /** The project named `name` as `userId` may see it; `own`: only its owner may go on. */
  async find(userId: string, name: string, need: "use" | "own" = "use"): Promise<Project> {
    const project = await this.#deps.store.projects.byName(name.trim().toLowerCase());
    if (!project || !(await this.#deps.store.projects.mayUse(project.id, userId))) {
      throw new ProjectError("vmNoSuchProject", { project: name });
    }
    if (need === "own" && project.ownerUserId !== userId) {
      throw new ProjectError("vmOwnerOnly", { project: project.name });
    }
    return project;
  }

  async create(
    userId: string,
    input: { name: string; repo?: string | undefined; branch?: string | undefined },
  ): Promise<Project> {
    const name = input.name.trim().toLowerCase();
    if (!PROJECT_NAME.test(name)) throw new ProjectError("projectBadName", { name: input.name });
    if (input.repo !== undefined && input.repo !== "") checkRepoUrl(input.repo);
    if (input.branch !== undefined && input.branch !== "" && !BRANCH.test(input.branch)) {
      throw new ProjectError("projectBadBranch", { branch: input.branch });
    }
    try {
      return await this.#deps.store.projects.create({
        name,
        ownerUserId: userId,
        repoUrl: input.repo || null,
        branch: input.branch || null,
      });
    } catch (error) {
      if (error instanceof ConflictError) throw new ProjectError("projectNameTaken", { name });
      throw error;
    }
  }

  async list(userId: string): Promise<ProjectSummary[]> {
    const { store, runtime, builds } = this.#deps;
    const projects = await store.projects.listFor(userId);
    return Promise.all(
      projects.map(async (p) => {
        const [info, build, bindings, members] = await Promise.all([
          runtime.inspect(projectAgent(p.id)),
          builds?.latest(p.id),
          store.projects.bindingsOf(p.id),
          store.projects.members(p.id),
        ]);
        const chats = await Promise.all(bindings.map((b) => this.chatName(b.conversationKey)));
        return {
          name: p.name,
          role: p.ownerUserId === userId ? "owner" : "member",
          repo: p.repoUrl,
          branch: p.branch,
          environment: p.revision && p.builtAt ? { revision: p.revision, builtAt: p.builtAt } : null,
          vm: info?.state ?? "not created",
          lastBuild: build ? { status: build.status, step: build.step, error: build.error } : null,
          boundChats: chats,
          members: members.length,
        } satisfies ProjectSummary;
      }),
    );
  }

  /**
   * Queues a build of the project's environment; progress and the outcome go to `notify`'s chat.
   * `requestKey`: what asked (see `BuildService.request`), so a request handled twice builds once.
   */
  async build(
    userId: string,
    name: string,
    source: BuildSource,
    notify?: TurnReply & { conversationKey: string },
    requestKey?: string,
  ): Promise<{ build: BuildRecord; queued: boolean; repeated: boolean; project: Project }> {
    const { builds } = this.#deps;
    if (!builds) throw new ProjectError("buildsUnavailable");
    const project = await this.find(userId, name);
    if (source.kind === "repo" && !project.repoUrl) {
      throw new ProjectError("buildNeedsRepo", { project: project.name });
    }
    const { build, queued, repeated } = await builds.request({
      project,
      userId,
      source,
      ...(requestKey !== undefined && { requestKey }),
      ...(notify && {
        notify: {
          platform: notify.platform,
          conversationKey: notify.conversationKey,
          reply: notify.reply,
          inboundReceivedAt: notify.inboundReceivedAt,
          language: notify.language,
        },
      }),
    });
    return { build, queued, repeated, project };
  }

  async lastBuild(
    userId: string,
    name: string,
  ): Promise<{ project: Project; build: BuildRecord | undefined }> {
    const project = await this.find(userId, name);
    return { project, build: await this.#deps.builds?.latest(project.id) };
  }

  /**
   * Binds `conversationKey` to the project. The conversation must be one the person is in (this chat, or
   * one they have spoken in), and a chat bound to another project is moved only by someone who may use
   * that one too. The chat is told (once per `opKey`: the caller's idempotency key).
   */
  async bind(
    userId: string,
    name: string,
    conversationKey: string,
    by: string,
    opKey: string,
  ): Promise<{ project: Project; previous: Project | undefined }> {
    const { store } = this.#deps;
    const project = await this.find(userId, name);
    const conversation = await store.conversations.get(conversationKey);
    if (!conversation) throw new ProjectError("bindUnknownChat", { chat: conversationKey });
    const current = await store.projects.bindingOf(conversationKey);
    const previous = current ? await store.projects.get(current.projectId) : undefined;
    if (previous?.id === project.id) throw new ProjectError("bindAlready", { project: project.name });
    if (previous && !(await store.projects.mayUse(previous.id, userId))) {
      throw new ProjectError("bindTakenByOther", { project: previous.name });
    }
    await store.projects.bind(conversationKey, project.id, userId);
    await this.#deps.announce(conversationKey, `${opKey}:bound`, previous ? "boundMoved" : "boundHere", {
      project: project.name,
      previous: previous?.name ?? "",
      by,
    });
    return { project, previous };
  }

  /** Returns the conversation to its senders' switchboards; the chat is told. */
  async unbind(userId: string, conversationKey: string, by: string, opKey: string): Promise<Project> {
    const { store } = this.#deps;
    const binding = await store.projects.bindingOf(conversationKey);
    const project = binding && (await store.projects.get(binding.projectId));
    if (!binding || !project) throw new ProjectError("unbindNotBound");
    if (binding.boundByUserId !== userId && !(await store.projects.mayUse(project.id, userId))) {
      throw new ProjectError("notMember", { project: project.name });
    }
    await store.projects.unbind(conversationKey);
    await this.#deps.announce(conversationKey, `${opKey}:unbound`, "unboundHere", {
      project: project.name,
      by,
    });
    return project;
  }

  async vmStatus(userId: string, name: string) {
    const project = await this.find(userId, name);
    return { project, info: await this.#deps.runtime.inspect(projectAgent(project.id)) };
  }

  async startVm(userId: string, name: string): Promise<Project> {
    const project = await this.find(userId, name);
    await this.requireEnvironment(project);
    await this.#deps.wake(project);
    return project;
  }

  /**
   * A project with a repository runs only on its built environment: a VM started before that would get an
   * empty workspace for good (a volume is seeded from its image once, when it is created). Refuses, saying
   * whether a build is under way or how to start one. Projects without a repository run on the agent image,
   * as does everything where no environment can be built (the process runtime).
   */
  async requireEnvironment(project: Project): Promise<void> {
    const { builds } = this.#deps;
    if (!builds || !project.repoUrl || project.image) return;
    const build = await builds.latest(project.id);
    if (build && (build.status === "queued" || build.status === "running")) {
      throw new ProjectError("environmentBuilding", { project: project.name, step: build.step ?? "" });
    }
    throw new ProjectError("environmentNotBuilt", { project: project.name });
  }

  async stopVm(userId: string, name: string): Promise<Project> {
    const project = await this.find(userId, name, "own");
    const agent = projectAgent(project.id);
    if ((await this.#deps.busyAgents()).has(agent))
      throw new ProjectError("vmBusy", { project: project.name });
    await this.#deps.dropConnection(agent);
    await this.#deps.runtime.stop(agent, { reason: "manual" });
    return project;
  }

  /** Removes the VM and its disk; the project, its image and its bindings stay (the next message makes a fresh VM). */
  async deleteVm(userId: string, name: string, confirm: string): Promise<Project> {
    const project = await this.find(userId, name, "own");
    if (confirm.trim().toLowerCase() !== project.name) {
      throw new ProjectError("vmDeleteConfirm", { project: project.name });
    }
    await this.#removeVm(project);
    return project;
  }

  /** Deletes the project with its VM and disk; every chat bound to it is told and goes back to switchboards. */
  async deleteProject(
    userId: string,
    name: string,
    confirm: string,
  ): Promise<{ project: Project; unbound: number }> {
    const project = await this.find(userId, name, "own");
    if (confirm.trim().toLowerCase() !== project.name) {
      throw new ProjectError("projectDeleteConfirm", { project: project.name });
    }
    // A build under way would tag its image after the images were removed, with nothing left to own it.
    const build = await this.#deps.builds?.latest(project.id);
    if (build && (build.status === "queued" || build.status === "running")) {
      throw new ProjectError("projectDeleteBuilding", { project: project.name, step: build.step ?? "" });
    }
    // Chats first (told, then unbound), so no message recreates the VM while it goes; the row last. A crash
    // part-way leaves a project that deleting again finishes; each chat is told once (the key is stable).
    const { store } = this.#deps;
    const bound = (await store.projects.bindingsOf(project.id)).map((b) => b.conversationKey);
    for (const key of bound) {
      await this.#deps.announce(key, `project-deleted:${project.id}:${key}`, "projectDeletedHere", {
        project: project.name,
      });
      await store.projects.unbind(key);
    }
    await this.#removeVm(project);
    await store.projects.delete(project.id);
    await this.#deps.builds?.removeImagesOf(project);
    return { project, unbound: bound.length };
  }

  async members(userId: string, name: string) {
    const project = await this.find(userId, name);
    const members = await this.#deps.store.projects.members(project.id);
    const people = await Promise.all(
      [project.ownerUserId, ...members.map((m) => m.userId)].map((id) => this.personName(id)),
    );
    return { project, owner: people[0] ?? "", members: people.slice(1) };
  }

  /** Adds a person (owner only). `person`: `platform:id`, or the name of someone in one of the owner's chats. */
  async addMember(
    userId: string,
    name: string,
    person: string,
  ): Promise<{ project: Project; person: string }> {
    const project = await this.find(userId, name, "own");
    const member = await this.resolvePerson(userId, person);
    if (member === project.ownerUserId) throw new ProjectError("memberIsOwner", { project: project.name });
    await this.#deps.store.projects.addMember(project.id, member, userId);
    return { project, person: await this.personName(member) };
  }

  async removeMember(
    userId: string,
    name: string,
    person: string,
  ): Promise<{ project: Project; person: string }> {
    const project = await this.find(userId, name, "own");
    const member = await this.resolvePerson(userId, person);
    if (!(await this.#deps.store.projects.removeMember(project.id, member))) {
      throw new ProjectError("memberNotFound", { person, project: project.name });
    }
    return { project, person: await this.personName(member) };
  }

  /** The chats the person has spoken in, with what each is bound to. */
  async conversations(userId: string) {
    const { store } = this.#deps;
    const list = await store.conversations.ofUser(userId);
    return Promise.all(
      list.map(async (c) => {
        const binding = await store.projects.bindingOf(c.key);
        const project = binding && (await store.projects.get(binding.projectId));
        return {
          key: c.key,
          name: c.title ?? (c.kind === "dm" ? `private chat on ${c.platform}` : c.key),
          platform: c.platform,
          kind: c.kind,
          boundTo: project?.name ?? null,
        };
      }),
    );
  }

  /**
   * A conversation the person names: its key, or the title of a chat they have spoken in (case-insensitive).
   * Anything else (a chat they are not in) is refused: people bind only where they are.
   */
  async resolveConversation(userId: string, ref: string): Promise<string> {
    const wanted = ref.trim().toLowerCase();
    const mine = await this.#deps.store.conversations.ofUser(userId);
    const byKey = mine.find((c) => c.key.toLowerCase() === wanted);
    if (byKey) return byKey.key;
    const byTitle = mine.filter((c) => (c.title ?? "").toLowerCase() === wanted);
    if (byTitle.length === 1 && byTitle[0]) return byTitle[0].key;
    if (byTitle.length > 1) throw new ProjectError("chatAmbiguous", { chat: ref });
    throw new ProjectError("chatUnknown", { chat: ref });
  }

  /** A person by `platform:id` (a known identity), or by a display name seen in the actor's chats. */
  async resolvePerson(actorId: string, ref: string): Promise<string> {
    const { store } = this.#deps;
    const trimmed = ref.trim().replace(/^@/, "");
    const [platform, ...rest] = trimmed.split(":");
    if (PLATFORMS.includes(platform as Platform) && rest.length > 0) {
      const identity = await store.identities.find(platform as Platform, rest.join(":"));
      if (identity) return identity.userId;
      throw new ProjectError("personUnknown", { person: ref });
    }
    const wanted = trimmed.toLowerCase();
    const found = new Set<string>();
    for (const chat of await store.conversations.ofUser(actorId)) {
      for (const p of await store.conversations.participants(chat.key)) {
        if ((p.displayName ?? "").toLowerCase() === wanted) found.add(p.userId);
      }
    }
    if (found.size === 1) return [...found][0] ?? "";
    if (found.size > 1) throw new ProjectError("personAmbiguous", { person: ref });
    throw new ProjectError("personUnknown", { person: ref });
  }

  async personName(userId: string): Promise<string> {
    const { store } = this.#deps;
    const [user, identities] = await Promise.all([
      store.users.get(userId),
      store.identities.listForUser(userId),
    ]);
    const id = identities[0] ? `${identities[0].platform}:${identities[0].platformUserId}` : userId;
    return user?.displayName ? `${user.displayName} (${id})` : id;
  }

  async chatName(conversationKey: string): Promise<string> {
    const c = await this.#deps.store.conversations.get(conversationKey);
    return c?.title ?? conversationKey;
  }

  async #removeVm(project: Project): Promise<void> {
    const agent = projectAgent(project.id);
    if ((await this.#deps.busyAgents()).has(agent))
      throw new ProjectError("vmBusy", { project: project.name });
    await this.#deps.dropConnection(agent);
    await this.#deps.runtime.remove(agent, { volume: true, reason: "deleted" });
  }
}

function checkRepoUrl(repo: string): void {
  if (repositoryUrlProblem(repo)) throw new ProjectError("projectBadRepo", { repo });
}
