import { createHash } from "node:crypto";
import { readFile, realpath } from "node:fs/promises";
import path from "node:path";
import { templateDockerfile } from "./layer.ts";
import type { BuildSource } from "./port.ts";

/** What a build is made from: the project stage's Dockerfile, and the revision naming the result. */

/**
 * Raised inside a run for what the project gives us (no Dockerfile, a path outside the clone). `key` names
 * the catalog message the chat gets (with the project's name and `path`); the message is for logs.
 */
export class BuildInputError extends Error {
  readonly key: "buildNoDockerfile" | "buildDockerfileOutside" | "buildNeedsRepo";
  readonly path: string;
  constructor(message: string, key: BuildInputError["key"], path = "") {
    super(message);
    this.name = "BuildInputError";
    this.key = key;
    this.path = path;
  }
}

const DOCKERFILE_MAX = 64 * 1024;

/** The Dockerfile text the project stage is built from (the repo's own is read from the clone in `dir`). */
export async function dockerfileOf(source: BuildSource, dir: string, agentImage: string): Promise<string> {
  if (source.kind === "dockerfile") return source.text;
  if (source.kind === "template") return templateDockerfile(source.template, agentImage);
  const relative = source.path ?? "Dockerfile";
  const root = await realpath(dir);
  let file: string;
  try {
    file = await realpath(path.resolve(root, relative));
  } catch {
    throw new BuildInputError(
      `the repository has no ${relative}: add one, build from a template, or give a Dockerfile`,
      "buildNoDockerfile",
      relative,
    );
  }
  // A symlink out of the clone (to a file of this machine) is never read.
  if (!file.startsWith(`${root}${path.sep}`)) {
    throw new BuildInputError(
      `${relative} points outside the repository`,
      "buildDockerfileOutside",
      relative,
    );
  }
  const text = await readFile(file, "utf8");
  return text.length > DOCKERFILE_MAX ? text.slice(0, DOCKERFILE_MAX) : text;
}

/**
 * `<commit 12>` for the repo's own Dockerfile; `<commit 12>-<sha256 8 of the Dockerfile>` for a given one
 * or a template (a fixed Dockerfile gets a new tag); `t<sha256 8>` without a repository.
 */
export function revisionOf(commit: string | undefined, source: BuildSource, dockerfile: string): string {
  const hash = createHash("sha256").update(dockerfile).digest("hex").slice(0, 8);
  if (!commit) return `t${hash}`;
  const short = commit.slice(0, 12);
  return source.kind === "repo" ? short : `${short}-${hash}`;
}
