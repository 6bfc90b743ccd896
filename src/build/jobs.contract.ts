import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../config/index.ts";
import { openStore, type Project, type Store } from "../store/index.ts";
import { BuildJobs } from "./jobs.ts";

const LEASE = 30_000;

/** The behaviour of the `builds` table, on SQLite and PostgreSQL, with a fake clock. */
export function describeBuildJobsContract(
  name: string,
  setup: () => Promise<{ database: DatabaseConfig; dispose: () => Promise<void> }>,
): void {
  describe(`BuildJobs contract: ${name}`, () => {
    let store: Store;
    let jobs: BuildJobs;
    let dispose: () => Promise<void>;
    let clock = 1_000_000;
    let userId: string;
    let seq = 0;

    const project = async (): Promise<Project> =>
      store.projects.create({ name: `p${++seq}-${name.toLowerCase()}`, ownerUserId: userId });
    const queue = async (p: Project) =>
      (await jobs.create({ projectId: p.id, userId, source: { kind: "template", template: "generic" } })).job;

    /** Finishes whatever earlier tests left claimable, so each test sees only its own builds. */
    const settle = async () => {
      for (let job = await jobs.claim("drain", LEASE); job; job = await jobs.claim("drain", LEASE)) {
        await jobs.finish(job.id, "drain", { status: "failed", error: "drained", log: null });
      }
    };

    beforeAll(async () => {
      const db = await setup();
      dispose = db.dispose;
      const opened = await openStore(db.database, { now: () => clock });
      store = opened.store;
      jobs = new BuildJobs(opened.handle.db, () => clock);
      userId = (await store.identities.resolveUser({ platform: "telegram", platformUserId: "builder" })).id;
    });
    afterAll(async () => {
      await store.close();
      await dispose();
    });

    it("queues one build per project at a time, even when asked many times at once", async () => {
      const p = await project();
      const notify = {
        platform: "telegram" as const,
        conversationKey: "telegram:42",
        reply: { platform: "telegram" as const, chatId: 42, messageId: 7 },
        inboundReceivedAt: clock,
        language: "zh-TW" as const,
      };
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          jobs.create({ projectId: p.id, userId, source: { kind: "repo" }, notify }),
        ),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const ids = new Set(results.map((r) => r.job.id));
      expect(ids.size).toBe(1);
      const job = results[0]?.job;
      expect(job).toMatchObject({
        projectId: p.id,
        userId,
        status: "queued",
        source: { kind: "repo" },
        attempt: 0,
        notify,
        holder: null,
        startedAt: null,
        createdAt: clock,
      });
      expect((await jobs.active(p.id))?.id).toBe(job?.id);
      expect((await jobs.latest(p.id))?.id).toBe(job?.id);
      await expect(
        jobs.create({ projectId: "no-such-project", userId, source: { kind: "repo" } }),
      ).rejects.toThrow(/no project/);
    });

    it("claims the oldest queued build under a lease, renewable only by its holder", async () => {
      await settle();
      const first = await queue(await project());
      clock += 1;
      const second = await queue(await project());
      clock += 1;
      const a = await jobs.claim("a", LEASE);
      expect(a).toMatchObject({ id: first.id, status: "running", holder: "a", attempt: 1, startedAt: clock });
      expect(await jobs.get(first.id)).toMatchObject({ status: "running", holder: "a", attempt: 1 });
      const b = await jobs.claim("b", LEASE);
      expect(b?.id).toBe(second.id);
      expect(await jobs.claim("c", LEASE)).toBeUndefined();

      expect(await jobs.extend(first.id, "a", LEASE)).toBe(true);
      expect(await jobs.extend(first.id, "b", LEASE)).toBe(false);
      expect(await jobs.progress(first.id, "a", "step 1/3: FROM x")).toBe(true);
      expect(await jobs.progress(first.id, "b", "step 9/9: nope")).toBe(false);
      expect((await jobs.get(first.id))?.step).toBe("step 1/3: FROM x");
      // Still queued/running: the project has an active build.
      expect((await jobs.active(first.projectId))?.id).toBe(first.id);
      await jobs.finish(first.id, "a", { status: "failed", error: "x", log: null });
      await jobs.finish(second.id, "b", { status: "failed", error: "x", log: null });
    });

    it("a lapsed lease is taken over (attempt 2); the old holder can change nothing after", async () => {
      await settle();
      const job = await queue(await project());
      const dead = await jobs.claim("dead", LEASE);
      expect(dead?.id).toBe(job.id);
      expect(await jobs.claim("alive", LEASE)).toBeUndefined();
      clock += LEASE + 1;
      const taken = await jobs.claim("alive", LEASE);
      expect(taken).toMatchObject({ id: job.id, holder: "alive", attempt: 2, startedAt: clock });
      expect(await jobs.extend(job.id, "dead", LEASE)).toBe(false);
      expect(await jobs.progress(job.id, "dead", "x")).toBe(false);
      expect(await jobs.finish(job.id, "dead", { status: "failed", error: "late", log: null })).toBe(false);
      expect(
        await jobs.finish(job.id, "alive", {
          status: "succeeded",
          image: "127.0.0.1:5000/u/p@sha256:ab",
          revision: "abc123",
          dockerfile: "FROM x\n",
        }),
      ).toBe(true);
      const done = await jobs.get(job.id);
      expect(done).toMatchObject({
        status: "succeeded",
        image: "127.0.0.1:5000/u/p@sha256:ab",
        revision: "abc123",
        dockerfile: "FROM x\n",
        error: null,
        attempt: 2,
        finishedAt: clock,
        leaseExpiresAt: null,
      });
      expect(await jobs.finish(job.id, "alive", { status: "failed", error: "twice", log: null })).toBe(false);
      expect(await jobs.active(job.projectId)).toBeUndefined();
      // A new build of the project may be queued now.
      expect(
        (await jobs.create({ projectId: job.projectId, userId, source: { kind: "repo" } })).created,
      ).toBe(true);
      await settle();
    });

    it("racing claimers each get a different build, every build exactly once", async () => {
      await settle();
      const queued = [];
      for (let i = 0; i < 3; i++) queued.push(await queue(await project()));
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim(`w${i}`, LEASE)));
      const got = claims.filter((c) => c !== undefined).map((c) => c.id);
      expect(got.sort()).toEqual(queued.map((q) => q.id).sort());
      for (const c of claims) if (c) expect((await jobs.get(c.id))?.holder).toBe(c.holder);
    });

    it("release gives the lease up at once; claimById takes, reports held, finished or missing", async () => {
      const job = await queue(await project());
      const taken = await jobs.claimById(job.id, "cli", LEASE);
      expect("taken" in taken && taken.taken.attempt).toBe(1);
      const held = await jobs.claimById(job.id, "other", LEASE);
      expect("held" in held && held.held.holder).toBe("cli");
      expect(await jobs.release(job.id, "other")).toBe(false);
      expect(await jobs.release(job.id, "cli")).toBe(true);
      const again = await jobs.claimById(job.id, "server", LEASE);
      expect("taken" in again && again.taken).toMatchObject({ holder: "server", attempt: 2 });
      await jobs.finish(job.id, "server", {
        status: "failed",
        error: "boom",
        log: "line 1\nline 2",
        revision: "r1",
      });
      const finished = await jobs.claimById(job.id, "cli", LEASE);
      expect("finished" in finished && finished.finished).toMatchObject({
        status: "failed",
        error: "boom",
        log: "line 1\nline 2",
        revision: "r1",
      });
      expect(await jobs.claimById("missing", "cli", LEASE)).toEqual({ missing: true });
    });

    it("lists builds finished since a time that report to a chat", async () => {
      const since = clock;
      const p = await project();
      const job = (
        await jobs.create({
          projectId: p.id,
          userId,
          source: { kind: "dockerfile", text: "FROM x\n" },
          notify: {
            platform: "webchat",
            conversationKey: "webchat:local",
            reply: { platform: "webchat", conversationKey: "webchat:local" } as never,
            inboundReceivedAt: clock,
            language: "en",
          },
        })
      ).job;
      const silent = await queue(await project());
      await jobs.claimById(job.id, "h", LEASE);
      await jobs.claimById(silent.id, "h", LEASE);
      await jobs.finish(job.id, "h", { status: "failed", error: "e", log: null });
      await jobs.finish(silent.id, "h", { status: "failed", error: "e", log: null });
      expect((await jobs.finishedSince(since)).map((j) => j.id)).toEqual([job.id]);
    });

    it("a request handled again (same request key) gets its build, even once it finished", async () => {
      const p = await project();
      const ask = () =>
        jobs.create({ projectId: p.id, userId, source: { kind: "repo" }, requestKey: `cmd:${p.id}` });
      const first = await ask();
      expect(first).toMatchObject({ created: true, repeated: false });
      expect(await ask()).toMatchObject({ created: false, repeated: true, job: { id: first.job.id } });
      await jobs.claimById(first.job.id, "h", LEASE);
      await jobs.finish(first.job.id, "h", { status: "failed", error: "e", log: null });
      expect(await ask()).toMatchObject({ created: false, repeated: true, job: { id: first.job.id } });
      // Another request is a new build.
      const other = await jobs.create({
        projectId: p.id,
        userId,
        source: { kind: "repo" },
        requestKey: "cmd:x",
      });
      expect(other).toMatchObject({ created: true, repeated: false });
      expect(other.job.id).not.toBe(first.job.id);
    });

    it("deleting the project deletes its builds", async () => {
      const p = await project();
      const job = await queue(p);
      await store.projects.delete(p.id);
      expect(await jobs.get(job.id)).toBeUndefined();
    });
  });
}
