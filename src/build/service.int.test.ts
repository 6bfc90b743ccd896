import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages, localDocker } from "../../test/support/docker.ts";
import { type GitServer, startGitServer } from "../../test/support/git-server.ts";
import { ensureRegistry, type TestRegistry } from "../../test/support/registry.ts";
import { createOutbox, type KyselyOutbox, type OutboxRecord } from "../delivery/index.ts";
import { SecretBox } from "../secrets/envelope.ts";
import { keyIdOf, LocalKeyProvider } from "../secrets/keys.ts";
import { type OpenedStore, openStore, type Project } from "../store/index.ts";
import { DockerImageBuilder } from "./docker-builder.ts";
import { BuildJobs } from "./jobs.ts";
import { DockerRegistry } from "./registry.ts";
import { type BuildNotify, type BuildRecord, BuildRequestError, BuildService } from "./service.ts";

/**
 * The Build Service's durable jobs on the real engine, real git (http-backend on 127.0.0.1), the real
 * registry (docker-registry on 127.0.0.1:5000), a real SQLite store and the real outbox. Projects build FROM
 * the test agent image, so our layer copies nothing and a build takes seconds.
 */
const docker = localDocker();
// Made at run time: a literal would be in the test image (it holds src/).
const TOKEN = `ghp_${randomBytes(18).toString("hex")}`;
const run = `r${Date.now().toString(36)}`;
const scratch = mkdtempSync(join(tmpdir(), "cloudclaude-build-service-"));
const workDir = join(scratch, "builds");
const logLines: string[] = [];
let agentImage: string;
let git: GitServer;
let registry: TestRegistry;
let opened: OpenedStore;
let outbox: KyselyOutbox;
let service: BuildService;
let ownerId: string;
let publicUrl: string;
let privateUrl: string;
let kicks = 0;
const tags: string[] = [];

beforeAll(async () => {
  const images = await ensureTestImages(docker);
  agentImage = images.agent;
  registry = await ensureRegistry();
  git = await startGitServer(TOKEN);
  const dockerfile = `FROM ${agentImage}\nRUN echo service-built > /tmp/built.txt\n`;
  publicUrl = git.createRepo("public", "svc-sample", { Dockerfile: dockerfile, "README.md": "# sample\n" });
  privateUrl = git.createRepo("private", "svc-secret", { "README.md": "# secret\n" }, "dev");
  const key = randomBytes(32);
  const secrets = new SecretBox(new LocalKeyProvider([{ id: keyIdOf(key), key }]));
  opened = await openStore({ kind: "sqlite", path: join(scratch, "cloudclaude.db") }, { secrets });
  outbox = createOutbox(opened.handle);
  ownerId = (await opened.store.identities.resolveUser({ platform: "telegram", platformUserId: "7001" })).id;
  service = makeService("test-a");
}, 600_000);

afterAll(async () => {
  await service?.stop();
  await git?.close();
  await opened?.store.close();
  for (const tag of tags) {
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
  }
  rmSync(scratch, { recursive: true, force: true });
});

function makeService(
  holder: string,
  options: { maxAttempts?: number; timeoutMs?: number } = {},
): BuildService {
  const { timeoutMs, ...rest } = options;
  return new BuildService({
    db: opened.handle.db,
    store: opened.store,
    builder: new DockerImageBuilder(docker, {
      agentImage,
      registry: registry.address,
      network: "none",
      ...(timeoutMs && { timeoutMs }),
    }),
    registry: new DockerRegistry(docker, registry.address),
    outbox,
    kickDelivery: () => {
      kicks++;
    },
    // Plain pino, no redaction: what the service itself writes is checked for the token below.
    logger: pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) }),
    holder,
    workDir,
    concurrency: 1,
    agentImage,
    pollMs: 300,
    ...rest,
  });
}

function notifyTo(chat: string, language: BuildNotify["language"] = "en"): BuildNotify {
  return {
    platform: "telegram",
    conversationKey: `telegram:${chat}`,
    reply: { platform: "telegram", chatId: Number(chat), messageId: 1 },
    inboundReceivedAt: Date.now(),
    language,
  };
}

async function newProject(
  name: string,
  repoUrl: string | null,
  branch: string | null = null,
): Promise<Project> {
  return opened.store.projects.create({ name: `${name}-${run}`, ownerUserId: ownerId, repoUrl, branch });
}

/** What the outbox holds for a chat, oldest first (no dispatcher runs here: everything is pending). */
async function chat(conversationKey: string): Promise<OutboxRecord[]> {
  return (await outbox.pending(10_000)).filter((m) => m.conversationKey === conversationKey);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function finished(id: string): Promise<BuildRecord> {
  return until(`build ${id} to finish`, async () => {
    const build = await service.get(id);
    return build && (build.status === "succeeded" || build.status === "failed") ? build : undefined;
  });
}

async function tagExists(tag: string): Promise<boolean> {
  return docker
    .getImage(tag)
    .inspect()
    .then(() => true)
    .catch(() => false);
}

describe("BuildService", () => {
  let sample: Project;

  it("queues a build, runs it, pushes the image, records it on the project and tells the chat in order", async () => {
    sample = await newProject("svc", publicUrl, "main");
    const notify = notifyTo("501");
    // The person's private chat with the bot: "ask me" there means their switchboard.
    await opened.store.conversations.upsert({
      key: notify.conversationKey,
      platform: "telegram",
      kind: "dm",
    });
    const t0 = Date.now();
    const { build, queued } = await service.request({
      project: sample,
      userId: ownerId,
      source: { kind: "repo" },
      notify,
    });
    expect(queued).toBe(true);
    expect(build).toMatchObject({ status: "queued", projectId: sample.id, userId: ownerId, attempt: 0 });
    expect(kicks).toBeGreaterThan(0);
    const accepted = await chat(notify.conversationKey);
    expect(accepted.map((m) => m.text)).toEqual([
      `Building the environment of ${sample.name}… I will post progress here.`,
    ]);

    // Asked again while it is queued: the same build, nothing new posted.
    const again = await service.request({
      project: sample,
      userId: ownerId,
      source: { kind: "repo" },
      notify,
    });
    expect(again).toMatchObject({ queued: false, build: { id: build.id, status: "queued" } });
    expect(await chat(notify.conversationKey)).toHaveLength(1);

    const lines: string[] = [];
    const done = await service.runNow(build.id, (line) => lines.push(line));
    console.log(`repo build through the service: ${Date.now() - t0} ms`);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect(done.attempt).toBe(1);
    expect(done.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(done.image).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:5000/${ownerId}/${sample.name}@sha256:[0-9a-f]{64}$`),
    );
    tags.push(`${registry.address}/${ownerId}/${sample.name}:${done.revision}`);
    expect(done.dockerfile).toBe(`FROM ${agentImage}\nRUN echo service-built > /tmp/built.txt\n`);
    expect(done.step).toMatch(/^step (\d+)\/\1: LABEL /);
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt ?? Number.POSITIVE_INFINITY);
    expect(await registry.hasTag(`${ownerId}/${sample.name}`, done.revision ?? "")).toBe(true);

    const project = await opened.store.projects.get(sample.id);
    expect(project).toMatchObject({ image: done.image, revision: done.revision });
    expect(project?.builtAt).toBeGreaterThan(0);
    expect(await service.latest(sample.id)).toEqual(done);
    expect(await service.get(build.id)).toEqual(done);

    expect(lines[0]).toBe(`cloning ${publicUrl} (main)`);
    expect(lines[1]).toMatch(/^step 1\/\d+: FROM /);
    expect(lines.some((l) => l.includes("RUN echo service-built"))).toBe(true);
    expect(lines.at(-1)).toBe(`pushing ${registry.address}/${ownerId}/${sample.name}:${done.revision}`);

    // The chat: accepted, then progress (the first step at once, then at most one per 5 s), then the outcome.
    const messages = await chat(notify.conversationKey);
    const texts = messages.map((m) => m.text);
    expect(texts[0]).toMatch(/^Building the environment of/);
    const progress = texts.slice(1, -1);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatch(
      new RegExp(`^${sample.name}: step 1/\\d+: FROM ${agentImage.replace(/[.]/g, "\\.")}$`),
    );
    for (const p of progress) expect(p).toMatch(new RegExp(`^${sample.name}: step \\d+/\\d+: `));
    const seconds = (Date.now() - t0) / 1000;
    expect(progress.length).toBeLessThanOrEqual(1 + Math.ceil(seconds / 5));
    expect(texts.at(-1)).toMatch(
      new RegExp(
        `^The environment of ${sample.name} is ready \\(revision ${done.revision}, \\d+ steps, \\d+ s\\)\\. Bind a group to it: send /bind ${sample.name} there, or ask me\\.\\nA VM that is already running keeps its old image until /vm restart ${sample.name}\\.$`,
      ),
    );
    expect(messages.every((m) => m.platform === "telegram" && m.reply.platform === "telegram")).toBe(true);
    expect(messages.map((m) => m.idempotencyKey)[0]).toBe(`build:${build.id}:accepted`);
    expect(messages.map((m) => m.idempotencyKey).at(-1)).toBe(`build:${build.id}:outcome`);
    // The clone is gone.
    expect(readdirSync(workDir)).toEqual([]);
    // Run again (the CLI on a finished build): nothing is built or posted.
    expect(await service.runNow(build.id)).toEqual(done);
    expect(await chat(notify.conversationKey)).toHaveLength(messages.length);
  }, 300_000);

  it("a broken Dockerfile fails with its log tail and the offer; the project's image stays; no tag", async () => {
    const before = await opened.store.projects.get(sample.id);
    const notify = notifyTo("502", "zh-TW");
    // A group (where the VM's Claude Code answers): the offer to fix points at the private chat.
    await opened.store.conversations.upsert({
      key: notify.conversationKey,
      platform: "telegram",
      kind: "group",
    });
    const text = `FROM ${agentImage}\nRUN echo about to fail && exit 3\n`;
    service.start();
    const { build, queued } = await service.request({
      project: sample,
      userId: ownerId,
      source: { kind: "dockerfile", text },
      notify,
    });
    expect(queued).toBe(true);
    const done = await finished(build.id);
    expect(done.status).toBe("failed");
    expect(done.step).toMatch(/^step 2\/\d+: RUN echo about to fail && exit 3$/);
    expect(done.error).toMatch(/returned a non-zero code: 3/);
    expect(done.log).toContain("about to fail");
    expect(done.dockerfile).toBe(text);
    // A given Dockerfile gets its own revision: the commit plus a hash of the text.
    expect(done.revision).toMatch(/^[0-9a-f]{12}-[0-9a-f]{8}$/);
    expect(done.revision?.slice(0, 12)).toBe(before?.revision);
    expect(await tagExists(`${registry.address}/${ownerId}/${sample.name}:${done.revision}`)).toBe(false);
    expect(await opened.store.projects.get(sample.id)).toEqual(before);

    const texts = (await chat(notify.conversationKey)).map((m) => m.text);
    expect(texts[0]).toBe(`正在建置 ${sample.name} 的環境…… 我會在這裡回報進度。`);
    const failure = texts.at(-1) ?? "";
    expect(failure).toContain(`${sample.name} 的建置失敗了（在 step 2/`);
    expect(failure).toContain("RUN echo about to fail && exit 3");
    expect(failure).toMatch(/```\n[\s\S]*about to fail[\s\S]*returned a non-zero code: 3[\s\S]*\n```/);
    expect(failure).toContain(
      `你的總機可以修正 Dockerfile：請在你與我的私訊中請它處理；或再傳送一次 /build ${sample.name}。`,
    );
    expect(texts.filter((t) => t.includes("建置失敗"))).toHaveLength(1);
  }, 300_000);

  it("a build whose holder crashed is taken over: attempt 2, 'interrupted' said once, one outcome", async () => {
    const project = await newProject("svc-takeover", null);
    const notify = notifyTo("503");
    // Another process queued it, claimed it with a short lease, and died.
    const other = makeService("crashed");
    const { build } = await other.request({
      project,
      userId: ownerId,
      source: { kind: "template", template: "generic" },
      notify,
    });
    const claim = await new BuildJobs(opened.handle.db).claimById(build.id, "crashed", 1);
    expect("taken" in claim && claim.taken.attempt).toBe(1);
    // Our workers (started by the previous test) find the lapsed lease on their next poll.
    const done = await finished(build.id);
    expect(done).toMatchObject({ status: "succeeded", attempt: 2 });
    expect(done.revision).toMatch(/^t[0-9a-f]{8}$/);
    tags.push(`${registry.address}/${ownerId}/${project.name}:${done.revision}`);
    expect((await opened.store.projects.get(project.id))?.image).toBe(done.image);

    const texts = (await chat(notify.conversationKey)).map((m) => m.text);
    expect(texts.filter((t) => t.startsWith("Building the environment"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("was interrupted"))).toEqual([
      `The build of ${project.name} was interrupted (the server running it stopped); starting it again.`,
    ]);
    expect(texts.filter((t) => t.includes("is ready"))).toHaveLength(1);
    expect(texts.at(-1)).toMatch(/is ready/);
    expect(texts.indexOf(texts.find((t) => t.includes("was interrupted")) ?? "")).toBe(1);
  }, 300_000);

  it("stop() aborts a build in flight and releases its lease: the next process takes it over at once", async () => {
    const project = await newProject("svc-stop", null);
    const notify = notifyTo("504");
    const { build } = await service.request({
      project,
      userId: ownerId,
      source: { kind: "dockerfile", text: `FROM ${agentImage}\nRUN sleep 4 # ${run}\n` },
      notify,
    });
    await until("the sleep step", async () =>
      (await service.get(build.id))?.step?.includes("RUN sleep 4") ? true : undefined,
    );
    const t = Date.now();
    await service.stop();
    expect(Date.now() - t).toBeLessThan(3_000);
    const jobs = new BuildJobs(opened.handle.db);
    expect(await jobs.get(build.id)).toMatchObject({
      status: "running",
      holder: "test-a",
      leaseExpiresAt: 0,
    });
    const next = makeService("test-b");
    const done = await next.runNow(build.id);
    expect(done).toMatchObject({ status: "succeeded", attempt: 2 });
    tags.push(`${registry.address}/${ownerId}/${project.name}:${done.revision}`);
    const texts = (await chat(notify.conversationKey)).map((m) => m.text);
    expect(texts.filter((t) => t.includes("is ready"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("was interrupted"))).toHaveLength(1);
  }, 300_000);

  it("clones a private repository with the user's stored token, which no log line holds", async () => {
    await opened.store.credentials.put({
      userId: ownerId,
      slot: "github",
      kind: "github_token",
      value: TOKEN,
    });
    const project = await newProject("svc-private", privateUrl, "dev");
    const { build } = await service.request({
      project,
      userId: ownerId,
      source: { kind: "template", template: "node" },
    });
    const done = await makeService("test-c").runNow(build.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect(done.revision).toMatch(/^[0-9a-f]{12}-[0-9a-f]{8}$/);
    tags.push(`${registry.address}/${ownerId}/${project.name}:${done.revision}`);
    expect(
      git.authorizations.some((a) => Buffer.from(a.slice(6), "base64").toString().endsWith(`:${TOKEN}`)),
    ).toBe(true);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("")).not.toContain(TOKEN);

    // Without a token the clone fails, and says why.
    await opened.store.credentials.remove(ownerId, "github");
    const second = await service.request({
      project,
      userId: ownerId,
      source: { kind: "template", template: "generic" },
      notify: notifyTo("505"),
    });
    const failed = await makeService("test-d").runNow(second.build.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/private: store a GitHub token/);
    const texts = (await chat("telegram:505")).map((m) => m.text);
    expect(texts.at(-1)).toMatch(
      /^The build of .* failed: I could not clone its repository\.\nIt is private: store a GitHub token that can read it with \/connect/,
    );
    // Asked by a member: only the owner's token ever clones, so the owner is the one to ask.
    const memberId = (
      await opened.store.identities.resolveUser({ platform: "telegram", platformUserId: "7002" })
    ).id;
    const third = await service.request({
      project,
      userId: memberId,
      source: { kind: "template", template: "generic" },
      notify: notifyTo("509"),
    });
    expect((await makeService("test-e").runNow(third.build.id)).status).toBe("failed");
    expect((await chat("telegram:509")).at(-1)?.text).toContain(
      `only the owner's token clones it: ask the owner of ${project.name} to store one`,
    );
    expect(readdirSync(workDir)).toEqual([]);
  }, 300_000);

  it("a build exceeding its timeout fails saying so, with the step it was at", async () => {
    const project = await newProject("svc-slow", null);
    const notify = notifyTo("506");
    const { build } = await service.request({
      project,
      userId: ownerId,
      source: { kind: "dockerfile", text: `FROM ${agentImage}\nRUN echo waiting && sleep 60 # ${run}\n` },
      notify,
    });
    const done = await makeService("test-slow", { timeoutMs: 3_000 }).runNow(build.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/took longer than 3 s/);
    expect(done.step).toMatch(/RUN echo waiting && sleep 60/);
    expect(await tagExists(`${registry.address}/${ownerId}/${project.name}:${done.revision}`)).toBe(false);
    const failure = (await chat(notify.conversationKey)).at(-1)?.text ?? "";
    expect(failure).toMatch(
      new RegExp(
        `^The build of ${project.name} took longer than \\d+ s, so I stopped it at step 2/\\d+: RUN echo waiting`,
      ),
    );
    expect(failure).toContain("waiting");
    expect(failure).toContain(`or send /build ${project.name} again.`);
  }, 120_000);

  it("a run that posted its outcome and died before recording it is run again without a word", async () => {
    const project = await newProject("svc-quiet", null);
    const notify = notifyTo("507");
    const { build } = await service.request({
      project,
      userId: ownerId,
      source: { kind: "template", template: "generic" },
      notify,
    });
    const jobs = new BuildJobs(opened.handle.db);
    await jobs.claimById(build.id, "crashed", 1);
    await outbox.enqueue({
      idempotencyKey: `build:${build.id}:outcome`,
      platform: notify.platform,
      conversationKey: notify.conversationKey,
      reply: notify.reply,
      inboundReceivedAt: notify.inboundReceivedAt,
      text: "the outcome the crashed run posted",
    });
    const before = await chat(notify.conversationKey);
    const done = await makeService("test-quiet").runNow(build.id);
    expect(done).toMatchObject({ status: "succeeded", attempt: 2 });
    tags.push(`${registry.address}/${ownerId}/${project.name}:${done.revision}`);
    expect(await chat(notify.conversationKey)).toEqual(before);
  }, 120_000);

  it("a build interrupted too often is given up, and the chat told", async () => {
    const project = await newProject("svc-giveup", null);
    const notify = notifyTo("508");
    const { build } = await service.request({
      project,
      userId: ownerId,
      source: { kind: "template", template: "generic" },
      notify,
    });
    await new BuildJobs(opened.handle.db).claimById(build.id, "crashed", 1);
    const done = await makeService("test-giveup", { maxAttempts: 1 }).runNow(build.id);
    expect(done).toMatchObject({ status: "failed", attempt: 2, error: "interrupted 1 times" });
    expect((await chat(notify.conversationKey)).map((m) => m.text).at(-1)).toBe(
      `The build of ${project.name} was interrupted 1 times, so I stopped trying. Send /build ${project.name} to try again.`,
    );
  });

  it("a repository without a Dockerfile, or whose Dockerfile leads out of it: said in the person's language", async () => {
    const bare = git.createRepo("public", "svc-bare", { "README.md": "# no Dockerfile here\n" });
    const project = await newProject("svc-bare", bare);
    const notify = notifyTo("507", "zh-TW");
    await opened.store.conversations.upsert({
      key: notify.conversationKey,
      platform: "telegram",
      kind: "dm",
    });
    const { build } = await service.request({ project, userId: ownerId, source: { kind: "repo" }, notify });
    const done = await makeService("test-bare").runNow(build.id);
    expect(done).toMatchObject({ status: "failed", error: expect.stringContaining("has no Dockerfile") });
    expect((await chat(notify.conversationKey)).at(-1)?.text).toBe(
      `${project.name} 的建置失敗了：它的儲存庫裡沒有 Dockerfile。要我修正 Dockerfile 並再試一次，請告訴我` +
        `（或在儲存庫中加入一個），或改用範本建置：/build ${project.name} node。`,
    );

    const outside = await service.request({
      project,
      userId: ownerId,
      source: { kind: "repo", path: "../../../../etc/passwd" },
      notify: notifyTo("508"),
    });
    const refused = await makeService("test-outside").runNow(outside.build.id);
    expect(refused).toMatchObject({ status: "failed", error: expect.stringContaining("points outside") });
    expect((await chat("telegram:508")).at(-1)?.text).toContain("points outside the repository");
  });

  it("refuses a repo build of a project without a repository", async () => {
    const project = await newProject("svc-norepo", null);
    await expect(
      service.request({ project, userId: ownerId, source: { kind: "repo" } }),
    ).rejects.toBeInstanceOf(BuildRequestError);
    expect(await service.latest(project.id)).toBeUndefined();
  });
});
