import { spawn } from "node:child_process";
import { createReadStream, readdirSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Dockerode from "dockerode";
import { followEngineStream, ImageBuildError, imageExists, LogTail, tagImage } from "./engine.ts";
import { shortHash } from "./hash.ts";
import {
  AGENT_HOME,
  AGENT_UID,
  APP_DIR,
  BASE_REPO,
  CLAUDE_BINARY_LABEL,
  IMAGE_LABEL,
  type Progress,
} from "./names.ts";
import { HOST_PROGRAMS, HOST_TREES, isElf, RootFs } from "./rootfs.ts";

const STAGING_PREFIX = "cloudclaude-base-";

/**
 * The base image, made without any registry: a root filesystem assembled from this host (its Node.js,
 * git, a shell, a few coreutils, CA certificates and their libraries) plus the production node_modules of
 * this checkout, `docker import`ed as one layer. Its tag hashes every input, so it is rebuilt only when
 * Node.js, package-lock.json, the host's files or this builder change; the agent image's small layers go
 * on top of it.
 */
export interface BaseOptions {
  /** The checkout whose package-lock.json is installed. */
  readonly repoRoot: string;
  /** Keep @anthropic-ai/claude-agent-sdk-<platform> (the real Claude Code, ~400 MB). */
  readonly claudeBinary: boolean;
  readonly progress?: Progress;
}

export interface BasePlan {
  readonly tag: string;
  readonly rootfs: RootFs;
}

/** Collects the host files and computes the tag (fast: no copying). */
export function planBase(options: BaseOptions): BasePlan {
  const rootfs = new RootFs();
  for (const program of HOST_PROGRAMS) rootfs.add(program);
  for (const tree of HOST_TREES) rootfs.addTree(tree);
  rootfs.addAs(process.execPath, "/usr/local/bin/node");
  rootfs.addLibraries();
  const builder = ["base.ts", "rootfs.ts"].map((f) => readFileSync(new URL(f, import.meta.url), "utf8"));
  const hash = shortHash([
    process.version,
    process.arch,
    readFileSync(join(options.repoRoot, "package-lock.json"), "utf8"),
    rootfs.fingerprint(),
    `claudeBinary=${options.claudeBinary}`,
    ...builder,
  ]);
  return { tag: `${BASE_REPO}:${hash}`, rootfs };
}

/** Builds the base image unless its tag exists; points `:latest` (`:latest-no-claude`) at it. */
export async function buildBase(docker: Dockerode, plan: BasePlan, options: BaseOptions): Promise<boolean> {
  const built = !(await imageExists(docker, plan.tag));
  if (built) await importBase(docker, plan, options);
  await tagImage(docker, plan.tag, BASE_REPO, options.claudeBinary ? "latest" : "latest-no-claude");
  return built;
}

async function importBase(docker: Dockerode, plan: BasePlan, options: BaseOptions): Promise<void> {
  const progress = options.progress ?? (() => {});
  const staging = await mkdtemp(join(tmpdir(), STAGING_PREFIX));
  try {
    const root = join(staging, "root");
    const app = join(root, APP_DIR);
    await mkdir(app, { recursive: true });

    progress("npm ci --omit=dev (production dependencies)");
    for (const file of ["package.json", "package-lock.json"]) {
      await copyFile(join(options.repoRoot, file), join(app, file));
    }
    await run(
      "npm",
      ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"],
      app,
    );
    // The agent image adds this checkout's package.json on top; the lock file has no use at run time.
    await rm(join(app, "package.json"));
    await rm(join(app, "package-lock.json"));
    if (!options.claudeBinary) await removeClaudeBinaries(join(app, "node_modules"));
    // Native code in node_modules (better-sqlite3, Claude Code) may need libraries node itself does not.
    plan.rootfs.addLibraries(nativeFiles(join(app, "node_modules")));

    progress("assemble the root filesystem from the host");
    plan.rootfs.stage(root);
    await writeSystemFiles(root);

    progress("tar the root filesystem");
    // Everything belongs to root but the agent's home. Appending (-r) a second member set with another
    // owner keeps this free of chown, so the builder does not need to run as root.
    const tarball = join(staging, "base.tar");
    const owner = (uid: number) => ["--numeric-owner", `--owner=${uid}`, `--group=${uid}`];
    await run("tar", ["-C", root, "-cf", tarball, ...owner(0), `--exclude=.${AGENT_HOME}`, "."], root);
    await run("tar", ["-C", root, "-rf", tarball, ...owner(AGENT_UID), `.${AGENT_HOME}`], root);

    progress(`docker import → ${plan.tag}`);
    const [repo, tag] = plan.tag.split(":") as [string, string];
    const answer = await docker.importImage(createReadStream(tarball), {
      repo,
      tag,
      changes: [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `LABEL ${IMAGE_LABEL}=base`,
        `LABEL ${CLAUDE_BINARY_LABEL}=${options.claudeBinary ? "yes" : "no"}`,
        'CMD ["/bin/sh"]',
      ],
    });
    await followEngineStream(answer, "docker import");
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Staging directories of builds that were killed midway (each holds a few hundred MB). Call it only while
 * holding the build lock, when no other build can be using one.
 */
export async function removeStaleStaging(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(STAGING_PREFIX)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** /etc/passwd and /etc/group with root and agent (1000), the agent's home, /tmp. */
async function writeSystemFiles(root: string): Promise<void> {
  const etc = join(root, "etc");
  await mkdir(etc, { recursive: true });
  await writeFile(
    join(etc, "passwd"),
    `root:x:0:0:root:/root:/bin/sh\nagent:x:${AGENT_UID}:${AGENT_UID}:CloudClaude agent:${AGENT_HOME}:/usr/bin/bash\n` +
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
  );
  await writeFile(join(etc, "group"), `root:x:0:\nagent:x:${AGENT_UID}:\nnogroup:x:65534:\n`);
  await writeFile(join(etc, "nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  for (const [dir, mode] of [
    [AGENT_HOME, 0o755],
    ["/tmp", 0o1777],
    ["/var/tmp", 0o1777],
    ["/root", 0o700],
  ] as const) {
    await mkdir(join(root, dir), { recursive: true });
    await chmod(join(root, dir), mode);
  }
  await chmod(root, 0o755); // mkdtemp made it 0700; it becomes the image's "/"
}

/** Drops the platform packages of the Agent SDK (the real Claude Code binary), for images using the fake. */
async function removeClaudeBinaries(nodeModules: string): Promise<void> {
  const scope = join(nodeModules, "@anthropic-ai");
  for (const name of readdirSync(scope)) {
    if (name.startsWith("claude-agent-sdk-")) await rm(join(scope, name), { recursive: true, force: true });
  }
}

/** `*.node` addons and the Agent SDK's platform binaries: ELF files whose libraries the image needs. */
function nativeFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const candidate = entry.name.endsWith(".node") || entry.parentPath.includes("claude-agent-sdk-");
    if (candidate && isElf(path)) found.push(path);
  }
  return found;
}

/** Runs a tool; a failure carries the last lines of its output. */
function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  const tail = new LogTail();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => tail.push(String(d)));
    child.stderr.on("data", (d) => tail.push(String(d)));
    child.once("error", (error) =>
      reject(new ImageBuildError(`${command} could not start`, "", { cause: error })),
    );
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new ImageBuildError(`${command} ${args.join(" ")} failed (${code ?? signal})`, tail.toString()),
        );
    });
  });
}
