import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Kysely } from "kysely";
import type { Outbox } from "../delivery/port.ts";
import { duration } from "../router/messages.ts";
import { abortable } from "../shared/abort.ts";
import { errorMessage } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { Project, Store } from "../store/index.ts";
import type { Database } from "../store/schema.ts";
import { DEFAULT_AGENT_IMAGE } from "../vm/images/names.ts";
import { cloneRepository } from "./git.ts";
import { type BuildJob, BuildJobs, type BuildNotify, type BuildRecord, toRecord } from "./jobs.ts";
import { acceptedKey, BuildChat, describeFailure, outcomeKey, Throttle } from "./news.ts";
import type { BuildSource, BuildStep, ImageBuilder, Registry } from "./port.ts";
import { BuildInputError, dockerfileOf, revisionOf } from "./sources.ts";

export type { BuildNotify, BuildRecord } from "./jobs.ts";

export interface BuildServiceOptions {
  readonly db: Kysely<Database>;
  readonly store: Store;
  /** A `DockerImageBuilder` (its own concurrency limit and timeout apply on top of ours). */
  readonly builder: ImageBuilder;
  /** Where built images are pushed; none: the local tag is the project's image (single host). */
  readonly registry?: Registry | undefined;
  readonly outbox: Outbox;
  readonly kickDelivery: () => void;
  readonly logger: Logger;
  /** Who this process is in the builds' leases (`host:pid`). */
  readonly holder: string;
  /** Clones go to `<workDir>/<build id>.<attempt>`, removed after each run. */
  readonly workDir: string;
  /** Builds this process runs at once (its workers). */
  readonly concurrency: number;
  readonly now?: () => number;
  /** The agent image the templates build FROM; must be the builder's (default `cloudclaude-agent:latest`). */
  readonly agentImage?: string | undefined;
  /** A running build's lease, renewed every third of it (default 60 s). */
  readonly leaseMs?: number | undefined;
  /** How often idle workers look for queued builds and lapsed leases (default 5 s). */
  readonly pollMs?: number | undefined;
  /** At most one progress message per this many ms in the chat (default 5 s). */
  readonly progressEveryMs?: number | undefined;
  /** A build interrupted this many times (its runs died with their process) is given up (default 5). */
  readonly maxAttempts?: number | undefined;
}

/** A request that cannot become a build (a repo source without a repository); nothing is queued. */
export class BuildRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildRequestError";
  }
}

/** The run was stopped: its lease was lost (another worker has it) or this process is stopping. */
class RunAborted extends Error {
  readonly reason: "lost" | "stop";
  constructor(reason: "lost" | "stop") {
    super(`build run aborted (${reason})`);
    this.reason = reason;
  }
}

interface ActiveRun {
  readonly abort: AbortController;
  readonly done: Promise<BuildRecord>;
}

/**
 * Durable builds of projects' environment images (docs/build-service.md). `request` records a build in the
 * `builds` table (one active per project) and says so in the asking chat; workers (`start`) or the CLI
 * (`runNow`) claim it under a lease and run it: clone with the person's GitHub token, build with the agent
 * layered on, push, record the image on the project. A process that dies mid-build loses nothing: its lease
 * lapses, another worker takes the build over and runs it again (attempt 2), and the chat hears one
 * outcome. Every chat message goes through the outbox with an idempotency key made of the build id (and
 * the attempt, for what each run says), so a replay posts nothing twice.
 */
export class BuildService {
  readonly #jobs: BuildJobs;
  readonly #store: Store;
  readonly #builder: ImageBuilder;
  readonly #registry: Registry | undefined;
  readonly #outbox: Outbox;
  readonly #kick: () => void;
  readonly #logger: Logger;
  readonly #holder: string;
  readonly #workDir: string;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #agentImage: string;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #progressEveryMs: number;
  readonly #maxAttempts: number;
  readonly #runs = new Map<string, ActiveRun>();
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #pumping = false;
  #pumpAgain = false;

  constructor(options: BuildServiceOptions) {
    this.#jobs = new BuildJobs(options.db, options.now);
    this.#store = options.store;
    this.#builder = options.builder;
    this.#registry = options.registry;
    this.#outbox = options.outbox;
    this.#kick = options.kickDelivery;
    this.#logger = options.logger;
    this.#holder = options.holder;
    this.#workDir = options.workDir;
    this.#concurrency = options.concurrency;
    this.#now = options.now ?? Date.now;
    this.#agentImage = options.agentImage ?? DEFAULT_AGENT_IMAGE;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 5_000;
    this.#progressEveryMs = options.progressEveryMs ?? 5_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
    if (!(this.#concurrency >= 1))
      throw new Error(`build concurrency must be at least 1, not ${this.#concurrency}`);
  }

  /**
   * Queues a build of the project (its repoUrl/branch) unless one is queued or running: then returns that
   * one with queued=false. `requestKey` names what asked (an inbox item, a tool call): asked again with the
   * same key (after a crash) it returns the build made then, with `repeated`, and queues nothing.
   */
  async request(input: {
    project: Project;
    userId: string;
    source: BuildSource;
    notify?: BuildNotify;
    requestKey?: string;
  }): Promise<{ build: BuildRecord; queued: boolean; repeated: boolean }> {
    const { project, source } = input;
    if (source.kind === "repo" && !project.repoUrl) {
      throw new BuildRequestError(
        `${project.name} has no repository, so there is no Dockerfile to build from: build it from a template or give a Dockerfile`,
      );
    }
    const { job, created, repeated } = await this.#jobs.create({
      projectId: project.id,
      userId: input.userId,
      source,
      notify: input.notify ?? null,
      requestKey: input.requestKey,
    });
    // Asked again after a crash (`repeated`): say "building…" again, in case the crash came before it was
    // recorded (a no-op when it was: same idempotency key).
    if (repeated && job.notify) {
      await this.#chat(job.notify, this.#logger).say(acceptedKey(job.id), "buildAccepted", {
        project: project.name,
      });
    }
    if (created) {
      this.#logger.info(
        { build: job.id, project: project.name, source: source.kind, chat: input.notify?.conversationKey },
        "build queued",
      );
      if (job.notify) {
        await this.#chat(job.notify, this.#logger).say(acceptedKey(job.id), "buildAccepted", {
          project: project.name,
        });
      }
      this.#pump();
    }
    return { build: toRecord(job), queued: created, repeated };
  }

  /**
   * Removes a deleted project's environment images from the build host (best effort: one in use stays, a
   * failure is logged). Images pulled by other hosts and the registry's copies are left to their own clean-up.
   */
  async removeImagesOf(project: Project): Promise<number> {
    try {
      const removed = await this.#builder.removeImages({ user: project.ownerUserId, project: project.name });
      this.#logger.info({ project: project.name, removed }, "removed the project's images");
      return removed;
    } catch (error) {
      this.#logger.warn({ err: error, project: project.name }, "could not remove the project's images");
      return 0;
    }
  }

  async get(id: string): Promise<BuildRecord | undefined> {
    const job = await this.#jobs.get(id);
    return job && toRecord(job);
  }

  async latest(projectId: string): Promise<BuildRecord | undefined> {
    const job = await this.#jobs.latest(projectId);
    return job && toRecord(job);
  }

  /** Background workers: claim and run builds (poll + kick on request). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#timer = setInterval(() => this.#pump(), this.#pollMs);
    this.#timer.unref();
    this.#pump();
    this.#sweepWorkDir().catch((error: unknown) =>
      this.#logger.warn({ err: error }, "could not clean the build directory"),
    );
  }

  /** Stops claiming; a build in flight is aborted and its lease released so a restart takes it over. */
  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const runs = [...this.#runs.values()];
    for (const run of runs) run.abort.abort(new RunAborted("stop"));
    await Promise.allSettled(runs.map((r) => r.done));
  }

  /**
   * For the CLI: claims this build now and runs it in this process, progress to onProgress (and to notify
   * if set). A build another live process is running is followed instead (its steps, then its outcome).
   */
  async runNow(id: string, onProgress?: (line: string) => void): Promise<BuildRecord> {
    let shown: string | null = null;
    for (;;) {
      const claim = await this.#jobs.claimById(id, this.#holder, this.#leaseMs);
      if ("missing" in claim) throw new Error(`there is no build ${id}`);
      if ("finished" in claim) return toRecord(claim.finished);
      if ("taken" in claim) return this.#execute(claim.taken, onProgress);
      if (claim.held.holder === this.#holder) {
        const mine = this.#runs.get(id);
        if (mine) return mine.done;
      }
      if (claim.held.step && claim.held.step !== shown) {
        shown = claim.held.step;
        onProgress?.(`${shown} (built by ${claim.held.holder})`);
      }
      await sleep(1_000);
    }
  }

  /** Claims builds while workers are free. Kicks arriving meanwhile make it look again. */
  #pump(): void {
    if (!this.#started) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          while (this.#started && this.#runs.size < this.#concurrency) {
            const job = await this.#jobs.claim(this.#holder, this.#leaseMs);
            if (!job) break;
            this.#execute(job).catch((error: unknown) =>
              this.#logger.error({ err: error, build: job.id }, "build run failed unexpectedly"),
            );
          }
        } while (this.#pumpAgain && this.#started);
      } catch (error) {
        this.#logger.warn({ err: error }, "claiming builds failed; trying again at the next poll");
      } finally {
        this.#pumping = false;
      }
    })();
  }

  #execute(job: BuildJob, onProgress?: (line: string) => void): Promise<BuildRecord> {
    const abort = new AbortController();
    const done = this.#run(job, abort.signal, onProgress).finally(() => {
      this.#runs.delete(job.id);
      // A worker is free again: look for more.
      this.#pump();
    });
    this.#runs.set(job.id, { abort, done });
    return done;
  }

  async #run(job: BuildJob, signal: AbortSignal, onProgress?: (line: string) => void): Promise<BuildRecord> {
    const log = this.#logger.child({ build: job.id, attempt: job.attempt });
    const started = this.#now();
    const project = await this.#store.projects.get(job.projectId);
    if (!project) {
      // Deleting a project deletes its builds: this row is (about to be) gone.
      await this.#jobs.finish(job.id, this.#holder, {
        status: "failed",
        error: "the project was deleted",
        log: null,
      });
      return this.#current(job);
    }
    const name = project.name;
    // A run that already posted its outcome and died before recording it: run again, but say nothing.
    const quiet = !job.notify || (await this.#outbox.has(outcomeKey(job.id)).catch(() => false));
    const chat = this.#chat(quiet ? null : job.notify, log);
    if (job.attempt > this.#maxAttempts) {
      log.warn({ project: name }, "build interrupted too often: given up");
      await chat.say(outcomeKey(job.id), "buildGaveUp", { project: name, attempts: job.attempt - 1 });
      await this.#jobs.finish(job.id, this.#holder, {
        status: "failed",
        error: `interrupted ${job.attempt - 1} times`,
        log: null,
      });
      return this.#current(job);
    }
    // The accepted message again (a no-op when `request` posted it), in case a crash came between the two.
    chat.note(acceptedKey(job.id), "buildAccepted", { project: name });
    if (job.attempt > 1) {
      log.info({ project: name }, "taking over an interrupted build");
      chat.note(`build:${job.id}:${job.attempt}:restart`, "buildRestarted", { project: name });
    } else log.info({ project: name, source: job.source.kind }, "build started");

    const lost = new AbortController();
    const onAbort = (reason: unknown) => lost.abort(reason);
    signal.addEventListener("abort", () => onAbort(signal.reason), { once: true });
    if (signal.aborted) onAbort(signal.reason);
    const stopRenewing = this.#jobs.keepLease(job.id, this.#holder, this.#leaseMs, {
      onLost: () => onAbort(new RunAborted("lost")),
      onError: (error) => log.warn({ err: error }, "could not renew the build's lease"),
    });

    const dir = path.join(this.#workDir, `${job.id}.${job.attempt}`);
    const pending: Promise<unknown>[] = [];
    /** Work abandoned when the run is stopped; the directory is removed once it has settled. */
    const unlessStopped = <T>(work: Promise<T>): Promise<T> => {
      pending.push(work.catch(() => {}));
      return abortable(work, lost.signal);
    };
    const throttle = new Throttle(this.#progressEveryMs, (step: BuildStep) =>
      chat.note(`build:${job.id}:${job.attempt}:step:${step.index}`, "buildProgress", {
        project: name,
        step: step.text,
      }),
    );
    let dockerfile: string | null = null;
    let revision: string | null = null;
    let lastStep: BuildStep | undefined;
    let progressWrites: Promise<unknown> = Promise.resolve();

    type Result =
      | { ok: true; image: string; revision: string; steps: number }
      | { ok: false; error: unknown };
    let result: Result;
    try {
      try {
        await mkdir(this.#workDir, { recursive: true });
        await rm(dir, { recursive: true, force: true });
        let commit: string | undefined;
        if (project.repoUrl) {
          // The owner's token, whoever asked: what their project is built from is theirs to reach (a
          // member's own access is never lent to the owner's image).
          const token = await this.#githubToken(project.ownerUserId, log);
          onProgress?.(`cloning ${project.repoUrl}${project.branch ? ` (${project.branch})` : ""}`);
          const clone = await unlessStopped(
            cloneRepository({ url: project.repoUrl, branch: project.branch ?? undefined, dir, token }),
          );
          commit = clone.commit;
        } else {
          if (job.source.kind === "repo") {
            throw new BuildInputError(
              `${name} has no repository, so there is no Dockerfile to build from: build it from a template or give a Dockerfile`,
              "buildNeedsRepo",
            );
          }
          await mkdir(dir, { recursive: true });
        }
        dockerfile = await dockerfileOf(job.source, dir, this.#agentImage);
        const rev = revisionOf(commit, job.source, dockerfile);
        revision = rev;
        const built = await unlessStopped(
          this.#builder.build({
            user: project.ownerUserId,
            project: name,
            revision: rev,
            contextDir: dir,
            source: job.source,
            onProgress: (step) => {
              // An abandoned build (stopped, lease lost) goes on in the engine for a while: not ours to tell.
              if (lost.signal.aborted) return;
              lastStep = step;
              onProgress?.(step.text);
              progressWrites = progressWrites
                .then(() => this.#jobs.progress(job.id, this.#holder, step.text))
                .catch((error: unknown) => log.warn({ err: error }, "could not record build progress"));
              throttle.push(step);
            },
          }),
        );
        let image = built.tag;
        if (this.#registry) {
          const registry = this.#registry;
          onProgress?.(`pushing ${built.tag}`);
          const pushed = await unlessStopped(
            registry.push(built.tag).catch((error: unknown) => {
              throw new Error(`pushing ${built.tag} to ${registry.address} failed: ${errorMessage(error)}`, {
                cause: error,
              });
            }),
          );
          image = pushed.reference;
        }
        result = { ok: true, image, revision: rev, steps: built.steps };
      } catch (error) {
        result = { ok: false, error };
      }
      throttle.close();
      await progressWrites;

      const aborted = lost.signal.aborted
        ? (lost.signal.reason as RunAborted)
        : !result.ok && result.error instanceof RunAborted
          ? result.error
          : undefined;
      if (aborted) {
        if (aborted.reason === "stop") {
          await this.#jobs.release(job.id, this.#holder).catch(() => false);
          log.info({ project: name }, "build stopped with this process; the next start takes it over");
        } else log.warn({ project: name }, "build lease lost; another worker runs it");
        return this.#current(job);
      }
      // Still ours? Then the project gets the image, the chat the news, and the record its outcome. (Any
      // error from here on leaves the lease to lapse: the build is taken over and run again.)
      if (!(await this.#jobs.extend(job.id, this.#holder, this.#leaseMs))) {
        log.warn({ project: name }, "build ended after its lease was lost; another worker runs it");
        return this.#current(job);
      }
      await chat.flush();
      const ms = this.#now() - started;
      if (result.ok) {
        await this.#store.projects.setImage(project.id, { image: result.image, revision: result.revision });
        await chat.say(outcomeKey(job.id), "buildSucceeded", {
          project: name,
          revision: result.revision,
          steps: result.steps,
          duration: duration(chat.language, ms),
        });
        await this.#jobs.finish(job.id, this.#holder, {
          status: "succeeded",
          image: result.image,
          revision: result.revision,
          dockerfile,
        });
        log.info(
          { project: name, image: result.image, revision: result.revision, steps: result.steps, ms },
          "build succeeded",
        );
      } else {
        const failure = describeFailure(result.error, lastStep, {
          askedByOwner: job.userId === project.ownerUserId,
        });
        await chat.say(outcomeKey(job.id), failure.key, {
          project: name,
          ...failure.params,
          duration: duration(chat.language, ms),
        });
        await this.#jobs.finish(job.id, this.#holder, {
          status: "failed",
          error: failure.error,
          log: failure.log,
          revision,
          dockerfile,
        });
        log.warn({ project: name, error: failure.error, step: lastStep?.text, ms }, "build failed");
      }
      return this.#current(job);
    } finally {
      throttle.close();
      stopRenewing();
      // An abandoned clone or build may still write into the directory: remove it once they are done.
      const remove = () => rm(dir, { recursive: true, force: true }).catch(() => {});
      if (lost.signal.aborted) void Promise.allSettled(pending).then(remove);
      else await remove();
    }
  }

  async #current(job: BuildJob): Promise<BuildRecord> {
    const now = await this.#jobs.get(job.id);
    return toRecord(now ?? job);
  }

  async #githubToken(userId: string, log: Logger): Promise<string | undefined> {
    try {
      return (await this.#store.credentials.read(userId, "github"))?.value;
    } catch (error) {
      // No master key, or none stored: public repositories clone without one.
      log.debug({ err: errorMessage(error) }, "no GitHub token for this build");
      return undefined;
    }
  }

  #chat(notify: BuildNotify | null, log: Logger): BuildChat {
    return new BuildChat(notify, { outbox: this.#outbox, store: this.#store, kick: this.#kick, log });
  }

  /** Clone directories left by runs of an earlier process (a crash skips their removal). */
  async #sweepWorkDir(): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(this.#workDir);
    } catch {
      return;
    }
    for (const entry of entries) {
      const id = entry.replace(/\.\d+$/, "");
      if (this.#runs.has(id)) continue;
      const job = await this.#jobs.get(id);
      if (job && (job.status === "queued" || job.status === "running")) continue;
      await rm(path.join(this.#workDir, entry), { recursive: true, force: true });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
