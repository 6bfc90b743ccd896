import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Dockerode from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerImageBuilder } from "../build/docker-builder.ts";
import { BuildJobs } from "../build/jobs.ts";
import { BuildService } from "../build/service.ts";
import { createOutbox } from "../delivery/outbox.ts";
import { type OpenedStore, openStore, type User } from "../store/index.ts";
import { ProcessRuntime } from "../vm/process-runtime.ts";
import { ProjectError, ProjectOps } from "./operations.ts";

/**
 * Who may do what with a project, on a real SQLite store: the rules every way of asking (switchboard tool,
 * chat command, CLI) goes through. Announcements are recorded as the chats would receive them.
 */
let dir: string;
let opened: OpenedStore;
let ops: ProjectOps;
const announced: Array<{ conversationKey: string; msg: string; params: Record<string, unknown> }> = [];
let owner: User;
let friend: User;
let stranger: User;

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProjectError) return error.key;
    throw error;
  }
  throw new Error("expected a refusal");
}

async function inChat(user: User, key: string, title: string) {
  await opened.store.conversations.upsert({ key, platform: "telegram", kind: "group", title });
  await opened.store.conversations.noteParticipant(key, user.id, user.displayName);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cc-projects-"));
  opened = await openStore({ kind: "sqlite", path: path.join(dir, "cc.db") });
  const logger = pino({ level: "silent" });
  ops = new ProjectOps({
    store: opened.store,
    runtime: new ProcessRuntime({ root: path.join(dir, "agents"), cli: "/nonexistent", logger }),
    busyAgents: async () => new Set(),
    dropConnection: async () => {},
    wake: async () => {},
    announce: async (conversationKey, _key, msg, params = {}) => {
      announced.push({ conversationKey, msg, params });
    },
  });
  const resolve = (id: string, name: string) =>
    opened.store.identities.resolveUser({ platform: "telegram", platformUserId: id, displayName: name });
  owner = await resolve("1", "Olga");
  friend = await resolve("2", "Farid");
  stranger = await resolve("3", "Sam");
  await inChat(owner, "telegram:-100", "Team");
  await inChat(friend, "telegram:-100", "Team");
  await inChat(stranger, "telegram:-300", "Elsewhere");
});

afterAll(async () => {
  await opened.store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("project operations", () => {
  it("validates what it creates and refuses a taken name", async () => {
    expect(await refusal(ops.create(owner.id, { name: "Bad Name!" }))).toBe("projectBadName");
    expect(await refusal(ops.create(owner.id, { name: "x", repo: "file:///etc" }))).toBe("projectBadRepo");
    expect(await refusal(ops.create(owner.id, { name: "x", repo: "https://u:p@h/r.git" }))).toBe(
      "projectBadRepo",
    );
    const created = await ops.create(owner.id, {
      name: "Shop",
      repo: "https://git.example/shop.git",
      branch: "dev",
    });
    expect(created).toMatchObject({ name: "shop", repoUrl: "https://git.example/shop.git", branch: "dev" });
    expect(await refusal(ops.create(stranger.id, { name: "shop" }))).toBe("projectNameTaken");
    expect(await opened.store.projects.list()).toHaveLength(1); // nothing else was written
  });

  it("a project does not exist for strangers; members use it, only the owner changes it", async () => {
    expect(await refusal(ops.find(stranger.id, "shop"))).toBe("vmNoSuchProject");
    expect(await refusal(ops.addMember(stranger.id, "shop", "telegram:2"))).toBe("vmNoSuchProject");
    // By name: someone who wrote in one of the owner's chats.
    expect((await ops.addMember(owner.id, "shop", "Farid")).person).toContain("telegram:2");
    expect((await ops.find(friend.id, "shop")).name).toBe("shop");
    expect((await ops.list(friend.id)).map((p) => [p.name, p.role])).toEqual([["shop", "member"]]);
    expect(await refusal(ops.stopVm(friend.id, "shop"))).toBe("vmOwnerOnly");
    expect(await refusal(ops.addMember(friend.id, "shop", "telegram:3"))).toBe("vmOwnerOnly");
    expect(await refusal(ops.deleteProject(friend.id, "shop", "shop"))).toBe("vmOwnerOnly");
    // Sam never wrote in Olga's chats: not found by name (names are not a directory of everyone).
    expect(await refusal(ops.addMember(owner.id, "shop", "Sam"))).toBe("personUnknown");
    expect(await refusal(ops.addMember(owner.id, "shop", "telegram:999"))).toBe("personUnknown");
  });

  it("binds only chats the person is in, moves a binding only for someone who may use both", async () => {
    expect(await refusal(ops.resolveConversation(owner.id, "Elsewhere"))).toBe("chatUnknown");
    const team = await ops.resolveConversation(owner.id, "team");
    await ops.bind(owner.id, "shop", team, "Olga", "op1");
    expect(announced.at(-1)).toMatchObject({ conversationKey: team, msg: "boundHere" });
    expect(await refusal(ops.bind(owner.id, "shop", team, "Olga", "op2"))).toBe("bindAlready");
    // Sam's own project cannot take over a chat bound to a project he is not in.
    await ops.create(stranger.id, { name: "sams" });
    await inChat(stranger, team, "Team");
    expect(await refusal(ops.bind(stranger.id, "sams", team, "Sam", "op3"))).toBe("bindTakenByOther");
    expect((await opened.store.projects.bindingOf(team))?.projectId).toBe(
      (await ops.find(owner.id, "shop")).id,
    );
    expect(await refusal(ops.unbind(stranger.id, team, "Sam", "op4"))).toBe("notMember");
    await ops.unbind(friend.id, team, "Farid", "op5");
    expect(announced.at(-1)).toMatchObject({ conversationKey: team, msg: "unboundHere" });
    expect(await refusal(ops.unbind(owner.id, team, "Olga", "op6"))).toBe("unbindNotBound");
  });

  it("deleting needs the name, tells every bound chat, and leaves nothing of the project", async () => {
    const team = await ops.resolveConversation(owner.id, "Team");
    await ops.bind(owner.id, "shop", team, "Olga", "op7");
    expect(await refusal(ops.deleteProject(owner.id, "shop", "yes"))).toBe("projectDeleteConfirm");
    const { unbound } = await ops.deleteProject(owner.id, "shop", "shop");
    expect(unbound).toBe(1);
    expect(announced.at(-1)).toMatchObject({ conversationKey: team, msg: "projectDeletedHere" });
    expect(await opened.store.projects.byName("shop")).toBeUndefined();
    expect(await opened.store.projects.bindingOf(team)).toBeUndefined();
    expect(await ops.list(friend.id)).toEqual([]);
  });
});

describe("project operations with the Build Service", () => {
  let withBuilds: ProjectOps;
  let jobs: BuildJobs;
  const woken: string[] = [];

  beforeAll(() => {
    const logger = pino({ level: "silent" });
    const builds = new BuildService({
      db: opened.handle.db,
      store: opened.store,
      // Never started, so nothing is built: these tests look at the requests and the rules around them.
      builder: new DockerImageBuilder(new Dockerode({ socketPath: path.join(dir, "no-engine.sock") })),
      outbox: createOutbox(opened.handle),
      kickDelivery: () => {},
      logger,
      holder: "test",
      workDir: path.join(dir, "builds"),
      concurrency: 1,
    });
    jobs = new BuildJobs(opened.handle.db);
    withBuilds = new ProjectOps({
      store: opened.store,
      runtime: new ProcessRuntime({ root: path.join(dir, "agents"), cli: "/nonexistent", logger }),
      builds,
      busyAgents: async () => new Set(),
      dropConnection: async () => {},
      wake: async (project) => {
        woken.push(project.name);
      },
      announce: async () => {},
    });
  });

  it("no VM before the environment; one build per request; no deletion in the middle of a build", async () => {
    const project = await withBuilds.create(owner.id, { name: "api", repo: "https://git.example/api.git" });
    expect(await refusal(withBuilds.startVm(owner.id, "api"))).toBe("environmentNotBuilt");
    expect(woken).toEqual([]);

    const first = await withBuilds.build(owner.id, "api", { kind: "repo" }, undefined, "cmd:41");
    expect(first).toMatchObject({ queued: true, repeated: false });
    // The same request handled again (after a crash): its build, nothing new queued.
    const again = await withBuilds.build(owner.id, "api", { kind: "repo" }, undefined, "cmd:41");
    expect(again).toMatchObject({ queued: false, repeated: true, build: { id: first.build.id } });
    expect(await refusal(withBuilds.startVm(owner.id, "api"))).toBe("environmentBuilding");
    expect(await refusal(withBuilds.deleteProject(owner.id, "api", "api"))).toBe("projectDeleteBuilding");

    await jobs.claimById(first.build.id, "test", 60_000);
    await jobs.finish(first.build.id, "test", { status: "failed", error: "e", log: null });
    expect(await refusal(withBuilds.startVm(owner.id, "api"))).toBe("environmentNotBuilt");
    await opened.store.projects.setImage(project.id, { image: "r/api@sha256:1", revision: "abc" });
    await withBuilds.startVm(owner.id, "api");
    expect(woken).toEqual(["api"]);
    // A project without a repository runs on the agent image.
    await withBuilds.create(owner.id, { name: "notes" });
    await withBuilds.startVm(owner.id, "notes");
    expect(woken).toEqual(["api", "notes"]);

    await withBuilds.deleteProject(owner.id, "api", "api");
    expect(await opened.store.projects.byName("api")).toBeUndefined();
  });
});
