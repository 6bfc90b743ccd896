import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureTestImages,
  exportContains,
  hardenedHostConfig,
  localDocker,
  runOnce,
  startDockerHost,
} from "../../test/support/docker.ts";
import { type GitServer, startGitServer } from "../../test/support/git-server.ts";
import { ensureRegistry, type TestRegistry } from "../../test/support/registry.ts";
import { DockerImageBuilder } from "./docker-builder.ts";
import { CloneError, cloneRepository } from "./git.ts";
import { LABELS, WORKSPACE_DIR } from "./layer.ts";
import { BuildFailedError, type BuildStep, BuildTimeoutError } from "./port.ts";
import { DockerRegistry, pullImage } from "./registry.ts";

/**
 * The Build Service on the real engine, real git (http-backend on 127.0.0.1) and a real registry
 * (docker-registry on 127.0.0.1:5000). Projects build FROM the locally built base image (nothing can be
 * pulled here), so our layer copies the agent's files in; templates build FROM the test agent image.
 */
const docker = localDocker();
// Made at run time: a literal would be in the image anyway (the test image holds src/, this file too).
const TOKEN = `ghp_${randomBytes(18).toString("hex")}`;
const USER = "u-build-test";
const run = `r${Date.now().toString(36)}`;
let base: string;
let agentImage: string;
let git: GitServer;
let registry: TestRegistry;
let publicUrl: string;
let privateUrl: string;
const scratch = mkdtempSync(join(tmpdir(), "cloudclaude-build-test-"));
const tags: string[] = [];

beforeAll(async () => {
  const images = await ensureTestImages(docker);
  base = images.base;
  agentImage = images.agent;
  registry = await ensureRegistry();
  git = await startGitServer(TOKEN);
  const files = (marker: string) => ({
    Dockerfile: [
      `FROM ${base}`,
      "USER root",
      "COPY package.json /opt/sample/package.json",
      `RUN echo ${marker} > /opt/sample/built.txt`,
      'ENTRYPOINT ["/bin/false"]',
      "",
    ].join("\n"),
    "package.json": JSON.stringify({ name: "sample", version: "1.0.0", private: true }),
    "README.md": `# sample (${marker})\n`,
  });
  publicUrl = git.createRepo("public", "sample", files("public-built"));
  privateUrl = git.createRepo("private", "secret-sample", files("private-built"), "dev");
}, 600_000);

afterAll(async () => {
  await git?.close();
  for (const tag of tags)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
});

function builder(options: ConstructorParameters<typeof DockerImageBuilder>[1] = {}): DockerImageBuilder {
  return new DockerImageBuilder(docker, { agentImage, network: "none", ...options });
}

async function clone(url: string, token?: string, branch?: string): Promise<string> {
  const dir = join(scratch, `clone-${Math.random().toString(36).slice(2)}`);
  await cloneRepository({ url, dir, token, branch });
  return dir;
}

async function tagExists(tag: string): Promise<boolean> {
  return docker
    .getImage(tag)
    .inspect()
    .then(() => true)
    .catch(() => false);
}

describe("Build Service", () => {
  it("builds a repo's Dockerfile with the agent layered on: runs as 1000, clone in the workspace", async () => {
    const dir = await clone(publicUrl, undefined, "main");
    const steps: BuildStep[] = [];
    const built = await builder().build({
      user: USER,
      project: "sample",
      revision: run,
      contextDir: dir,
      source: { kind: "repo" },
      onProgress: (step) => steps.push(step),
    });
    tags.push(built.tag);
    console.log(`repo Dockerfile build: ${built.durationMs} ms, ${built.steps} steps`);
    expect(built.tag).toBe(`${USER}/sample:${run}`);

    // Progress: one numbering across the project's Dockerfile and our layer, in order, ending at the total.
    expect(steps.map((s) => s.index)).toEqual(steps.map((_, i) => i + 1));
    expect(steps.at(-1)?.index).toBe(built.steps);
    expect(steps.every((s) => s.total === built.steps)).toBe(true);
    expect(steps[0]?.text).toBe(`step 1/${built.steps}: FROM ${base}`);
    expect(steps.find((s) => s.instruction.startsWith("RUN echo"))?.phase).toBe("project");
    expect(steps.at(-1)?.phase).toBe("agent");
    expect(steps.some((s) => s.instruction.startsWith("COPY --from="))).toBe(true);

    const image = await docker.getImage(built.tag).inspect();
    expect(image.Config.Labels).toMatchObject({
      [LABELS.managed]: "true",
      [LABELS.project]: "sample",
      [LABELS.user]: USER,
      [LABELS.revision]: run,
    });
    expect(image.Config.User).toBe("1000:1000");
    expect(image.Config.Entrypoint ?? []).toEqual([]);

    const help = await runOnce(docker, built.tag, [
      "/usr/local/bin/node",
      "/opt/cloudclaude/bin/cloudclaude.js",
      "agent",
      "--help",
    ]);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toContain("daemon");

    // As the VM Manager runs it: hardened, a fresh volume on /home/agent, seeded with the clone.
    const volume = `cc-build-test-${run}`;
    try {
      const check = await runOnce(
        docker,
        built.tag,
        [
          "sh",
          "-c",
          `id -u; cat /opt/sample/built.txt; cat ${WORKSPACE_DIR}/README.md; git -C ${WORKSPACE_DIR} log --format=%s; git -C ${WORKSPACE_DIR} status --short | wc -l`,
        ],
        hardenedHostConfig(volume),
      );
      expect(check.exitCode, check.stderr).toBe(0);
      expect(check.stdout.split("\n")).toEqual([
        "1000",
        "public-built",
        "# sample (public-built)",
        "init",
        "0",
        "",
      ]);
    } finally {
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => {});
    }
  }, 300_000);

  it("clones a private repo with the token through a credential helper: the token is nowhere after", async () => {
    await expect(clone(privateUrl, undefined, "dev")).rejects.toThrow(CloneError);
    await expect(clone(privateUrl, undefined, "dev")).rejects.toThrow(/private: store a GitHub token/);
    await expect(clone(privateUrl, "wrong-token", "dev")).rejects.toThrow(/token was refused/);
    const dir = await clone(privateUrl, TOKEN, "dev");
    expect(
      git.authorizations.some((a) => Buffer.from(a.slice(6), "base64").toString().endsWith(`:${TOKEN}`)),
    ).toBe(true);
    expect(filesContaining(dir, TOKEN)).toEqual([]);
    expect(readFileSync(join(dir, ".git", "config"), "utf8")).not.toMatch(/credential|x-access-token/);

    const built = await builder().build({
      user: USER,
      project: "secret-sample",
      revision: run,
      contextDir: dir,
      source: { kind: "template", template: "node" },
    });
    tags.push(built.tag);
    console.log(`node template build: ${built.durationMs} ms, ${built.steps} steps`);
    const help = await runOnce(docker, built.tag, ["git", "-C", WORKSPACE_DIR, "log", "--format=%s"]);
    expect(help.stdout.trim()).toBe("init");

    // The whole image filesystem, as `docker export` gives it.
    const exported = await exportContains(docker, built.tag, Buffer.from(TOKEN));
    expect(exported.bytes).toBeGreaterThan(50_000_000);
    expect(exported.found).toBe(false);
  }, 300_000);

  it("a broken Dockerfile fails with its log tail and leaves no tag; a template without its toolchain says so", async () => {
    const dir = await clone(publicUrl);
    const request = {
      user: USER,
      project: "broken",
      revision: run,
      contextDir: dir,
      source: { kind: "dockerfile" as const, text: `FROM ${base}\nRUN echo about to fail && exit 3\n` },
    };
    const error = await builder()
      .build(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildFailedError);
    const failure = error as BuildFailedError;
    expect(failure.step?.instruction).toBe("RUN echo about to fail && exit 3");
    expect(failure.log).toContain("about to fail");
    expect(failure.log).toMatch(/returned a non-zero code: 3/);
    expect(failure.log.split("\n").length).toBeLessThanOrEqual(20);
    expect(await tagExists(`${USER}/broken:${run}`)).toBe(false);

    const python = await builder()
      .build({ ...request, project: "py", source: { kind: "template", template: "python" } })
      .catch((e: unknown) => e);
    expect(python).toBeInstanceOf(BuildFailedError);
    expect((python as BuildFailedError).log).toContain("the python template needs python3");
    expect(await tagExists(`${USER}/py:${run}`)).toBe(false);
  }, 300_000);

  it("a build exceeding its timeout is aborted, its container gone, no tag", async () => {
    const dir = await clone(publicUrl);
    const started = Date.now();
    const marker = `sleep 307 # ${run}`;
    const error = await builder({ timeoutMs: 4_000 })
      .build({
        user: USER,
        project: "slow",
        revision: run,
        contextDir: dir,
        source: { kind: "dockerfile", text: `FROM ${base}\nRUN ${marker}\n` },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildTimeoutError);
    expect((error as BuildTimeoutError).step?.instruction).toBe(`RUN ${marker}`);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await tagExists(`${USER}/slow:${run}`)).toBe(false);
    // The engine cancels the build when its client goes: the RUN container is stopped and removed.
    const deadline = Date.now() + 30_000;
    let left = 1;
    while (Date.now() < deadline) {
      const all = await docker.listContainers({ all: true });
      left = all.filter((c) => c.Command.includes(marker)).length;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(left).toBe(0);
  }, 120_000);

  it("limits concurrent builds, pushes to the registry, and a second engine pulls and runs the image", async () => {
    const dir = await clone(publicUrl);
    const limited = builder({ registry: registry.address, concurrency: 1 });
    const events: string[] = [];
    const request = (revision: string) => ({
      user: USER,
      project: "pushed",
      revision,
      contextDir: dir,
      source: { kind: "template" as const, template: "generic" as const },
      onProgress: (step: BuildStep) => events.push(`${revision} ${step.index}/${step.total}`),
    });
    const [first, second] = await Promise.all([
      limited.build(request(`${run}a`)),
      limited.build(request(`${run}b`)),
    ]);
    tags.push(first.tag, second.tag);
    console.log(`generic template builds: ${first.durationMs} ms, ${second.durationMs} ms`);
    // One at a time: every step of the first before any of the second.
    const firstDone = events.lastIndexOf(`${run}a ${first.steps}/${first.steps}`);
    expect(firstDone).toBeGreaterThanOrEqual(0);
    expect(events.findIndex((e) => e.startsWith(`${run}b `))).toBe(firstDone + 1);
    expect(first.tag).toBe(`127.0.0.1:5000/${USER}/pushed:${run}a`);

    let t = Date.now();
    const pushed = await new DockerRegistry(docker, registry.address).push(first.tag);
    console.log(`push: ${Date.now() - t} ms`);
    expect(pushed.reference).toMatch(/^127\.0\.0\.1:5000\/u-build-test\/pushed@sha256:[0-9a-f]{64}$/);
    expect(await registry.hasTag(`${USER}/pushed`, `${run}a`)).toBe(true);

    const host = await startDockerHost("cc-build-second");
    t = Date.now();
    await pullImage(host.docker, pushed.reference);
    console.log(`pull on the second engine: ${Date.now() - t} ms`);
    try {
      const help = await runOnce(host.docker, pushed.reference, [
        "/usr/local/bin/node",
        "/opt/cloudclaude/bin/cloudclaude.js",
        "agent",
        "--help",
      ]);
      expect(help.exitCode, help.stderr).toBe(0);
      expect(help.stdout).toContain("daemon");
    } finally {
      await host.docker
        .getImage(pushed.reference)
        .remove({ force: true })
        .catch(() => {});
    }
  }, 300_000);
});

/** Files under `dir` (including .git) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) found.push(...filesContaining(path, needle));
    else if (readFileSync(path).includes(needle)) found.push(path);
  }
  return found;
}
