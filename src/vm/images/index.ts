import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Dockerode from "dockerode";
import { agentTag, buildAgent } from "./agent.ts";
import { buildBase, planBase, removeStaleStaging } from "./base.ts";
import {
  AGENT_REPO,
  type BuiltImages,
  CLAUDE_BINARY_LABEL,
  IMAGE_LABEL,
  type Progress,
  TEST_REPO,
} from "./names.ts";

export { dockerFromUrl, ImageBuildError } from "./engine.ts";
export * from "./names.ts";

/** The checkout this module belongs to (its bin/, src/ and package-lock.json go into the image). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface BuildOptions {
  /** Build from the host's files (no registry); otherwise images/agent/Dockerfile FROM node:24. */
  readonly offline: boolean;
  /** The test variant: fake Claude Code, tagged cloudclaude-agent-test. */
  readonly test?: boolean;
  /** Offline only: keep the real Claude Code binary in node_modules (default: not for the test variant). */
  readonly claudeBinary?: boolean;
  readonly repoRoot?: string;
  readonly progress?: Progress;
}

/**
 * Builds (or finds) the agent image. Idempotent: every tag is content addressed, so when nothing changed
 * this only hashes the inputs (about a second) and re-points `:latest`. Concurrent builds on one
 * machine (parallel test files, a CLI run) take turns through a lock file and then find each other's tags.
 */
export async function buildImages(docker: Dockerode, options: BuildOptions): Promise<BuiltImages> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const test = options.test ?? false;
  const progress = options.progress ?? (() => {});
  return withLock(progress, async () => {
    if (!options.offline) {
      const build = {
        repoRoot,
        test,
        progress,
        dockerfile: "images/agent/Dockerfile",
        extraFiles: ["package-lock.json"],
      };
      const agent = agentTag(build);
      const built = await buildAgent(docker, build, agent);
      if (built) await pruneOldTags(docker, agent);
      return { base: "node:24-bookworm-slim", agent, latest: latestOf(test), built };
    }
    await removeStaleStaging();
    progress("collect host files (ldd)");
    const baseOptions = { repoRoot, claudeBinary: options.claudeBinary ?? !test, progress };
    const plan = planBase(baseOptions);
    const baseBuilt = await buildBase(docker, plan, baseOptions);
    const build = {
      repoRoot,
      test,
      progress,
      dockerfile: "images/agent/Dockerfile.offline",
      buildargs: { BASE: plan.tag },
    };
    const agent = agentTag(build);
    const agentBuilt = await buildAgent(docker, build, agent);
    if (baseBuilt) await pruneOldTags(docker, plan.tag);
    if (agentBuilt) await pruneOldTags(docker, agent);
    return { base: plan.tag, agent, latest: latestOf(test), built: baseBuilt || agentBuilt };
  });
}

/** Older builds kept per repository (besides the new one), so a running agent's image keeps a name. */
const KEEP = 2;

/**
 * Every change to src/ makes a new content-addressed tag; older ones of the same kind (same labels) are
 * removed past the newest few. Only tags go: an image whose last tag a container still uses stays (the
 * engine answers with a conflict, ignored here), and layers shared with newer images stay anyway.
 */
async function pruneOldTags(docker: Dockerode, current: string): Promise<void> {
  const [repo] = current.split(":") as [string];
  const labels = (await docker.getImage(current).inspect()).Config.Labels ?? {};
  const label = [IMAGE_LABEL, CLAUDE_BINARY_LABEL].flatMap((key) =>
    labels[key] === undefined ? [] : [`${key}=${labels[key]}`],
  );
  const images = await docker.listImages({ filters: { reference: [repo], label } });
  const old = images
    .sort((a, b) => b.Created - a.Created)
    .flatMap((image) => image.RepoTags ?? [])
    .filter((tag) => tag.startsWith(`${repo}:`) && /:[0-9a-f]{12}$/.test(tag) && tag !== current)
    .slice(KEEP);
  for (const tag of old) {
    await docker
      .getImage(tag)
      .remove()
      .catch(() => {});
  }
}

function latestOf(test: boolean): string {
  return `${test ? TEST_REPO : AGENT_REPO}:latest`;
}

const LOCK = join(tmpdir(), "cloudclaude-images.lock");

/** A lock file holding the builder's pid; a lock whose process is gone is taken over. */
async function withLock<T>(progress: Progress, body: () => Promise<T>): Promise<T> {
  let waiting = false;
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (!holderAlive()) {
        unlinkSync(LOCK);
        continue;
      }
      if (!waiting) progress(`waiting for another image build (${LOCK})`);
      waiting = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await body();
  } finally {
    unlinkSync(LOCK);
  }
}

function holderAlive(): boolean {
  let text: string;
  try {
    text = readFileSync(LOCK, "utf8");
  } catch {
    return true; // released meanwhile: try again
  }
  if (text === "") return true; // just created, the pid not written yet
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
