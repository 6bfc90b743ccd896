import { spawn } from "node:child_process";
import type Dockerode from "dockerode";
import { followEngineStream, ImageBuildError, imageExists, LogTail, tagImage } from "./engine.ts";
import { shortHash, treeDigest } from "./hash.ts";
import { AGENT_REPO, type Progress, TEST_REPO } from "./names.ts";

/**
 * The agent image, built by the engine (`/build`, the classic builder of Docker 20.10 is enough) from a
 * context of exactly the files it copies, packed with `tar` (no .dockerignore involved, so the tag's hash
 * covers what is sent).
 */
export interface AgentBuild {
  readonly repoRoot: string;
  /** images/agent/Dockerfile.offline (FROM the imported base) or images/agent/Dockerfile (FROM node:24). */
  readonly dockerfile: string;
  /** The test stage: the fake Claude Code and CLAUDE_CODE_EXECUTABLE pointing at it. */
  readonly test: boolean;
  /** Build arguments (BASE for the offline Dockerfile); they are part of the tag's hash. */
  readonly buildargs?: Readonly<Record<string, string>>;
  /** More context files (package-lock.json for the registry Dockerfile, which runs npm ci itself). */
  readonly extraFiles?: readonly string[];
  readonly progress?: Progress;
}

const APP_FILES = ["images/agent", "bin", "src", "package.json"];
const TEST_FILES = ["test/support/fake-claude"];

export function agentContextFiles(build: AgentBuild): string[] {
  return [...APP_FILES, ...(build.extraFiles ?? []), ...(build.test ? TEST_FILES : [])];
}

/** `cloudclaude-agent[-test]:<hash of the Dockerfile, build arguments and context files>` */
export function agentTag(build: AgentBuild): string {
  const hash = shortHash([
    build.dockerfile,
    JSON.stringify(build.buildargs ?? {}),
    treeDigest(build.repoRoot, agentContextFiles(build)),
    build.test ? "test" : "agent",
  ]);
  return `${build.test ? TEST_REPO : AGENT_REPO}:${hash}`;
}

/** Builds the agent image unless its tag exists, then points `:latest` at it. Returns whether it built. */
export async function buildAgent(
  docker: Dockerode,
  build: AgentBuild,
  tag = agentTag(build),
): Promise<boolean> {
  const [repo, hash] = tag.split(":") as [string, string];
  const built = !(await imageExists(docker, tag));
  if (built) {
    build.progress?.(`docker build ${build.dockerfile} → ${tag}`);
    const tail = new LogTail();
    const context = packContext(build.repoRoot, agentContextFiles(build), tail);
    const answer = await docker.buildImage(context.stream, {
      t: tag,
      dockerfile: build.dockerfile,
      target: build.test ? "agent-test" : "agent",
      buildargs: build.buildargs ?? {},
      labels: { "cloudclaude.hash": hash },
      rm: true,
      forcerm: true,
    });
    await followEngineStream(answer, "docker build", build.progress, tail);
    await context.done;
  }
  await tagImage(docker, tag, repo, "latest");
  return built;
}

/** `tar -c` of the given repository paths, everything owned by root. */
function packContext(
  root: string,
  paths: readonly string[],
  tail: LogTail,
): { stream: NodeJS.ReadableStream; done: Promise<void> } {
  const child = spawn("tar", ["-C", root, "-c", "--numeric-owner", "--owner=0", "--group=0", ...paths], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.on("data", (d) => tail.push(String(d)));
  const done = new Promise<void>((resolve, reject) => {
    child.once("error", (error) => reject(new ImageBuildError("tar could not start", "", { cause: error })));
    child.once("close", (code) =>
      code === 0
        ? resolve()
        : reject(new ImageBuildError(`tar of the build context failed (${code})`, tail.toString())),
    );
  });
  // Surfaced by `await context.done` after the build; not an unhandled rejection meanwhile.
  done.catch(() => {});
  return { stream: child.stdout, done };
}
