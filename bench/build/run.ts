// bench/build: how long a person waits for a project's environment, on the machine's Docker engine, a local
// git server, Debian's docker-registry on 127.0.0.1:5000 and a second `dockerd` as another host of the pool.
//
//   node bench/build/run.ts [--runs 3]
//
// Each run makes two repositories with the same Dockerfile (a RUN step that is new to the build cache) and
// a different README, then measures the Build Service's components (the real ones):
//   clone:          git clone over http of the repository (cloneRepository)
//   cold build:     the project's Dockerfile with nothing cached + our agent layer on top (DockerImageBuilder)
//   push:           that image to the registry (DockerRegistry)
//   warm build:     the second repository: the project stage comes from the cache, our layer is rebuilt
//   warm push:      only the layers that changed
//   pull elsewhere: the cold image pulled by a second host that has the agent image's layers already
// The test agent image (the fake Claude Code inside) is the base, as in the first-flow test.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DockerImageBuilder } from "../../src/build/docker-builder.ts";
import { cloneRepository } from "../../src/build/git.ts";
import { DockerRegistry, pullImage } from "../../src/build/registry.ts";
import { copyImage, ensureTestImage, localDocker, startDockerHost } from "../../test/support/docker.ts";
import { startGitServer } from "../../test/support/git-server.ts";
import { ensureRegistry } from "../../test/support/registry.ts";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "3" }, help: { type: "boolean" } },
});
if (args.help) {
  console.log("usage: node bench/build/run.ts [--runs 3]");
  process.exit(0);
}
const runs = Number(args.runs);
const docker = localDocker();
const image = await ensureTestImage(docker);
const registry = await ensureRegistry();
const git = await startGitServer(randomBytes(16).toString("hex"));
const second = await startDockerHost("cc-bench-build");
// The other host runs agents already: it has the agent image (what every project image is built on).
await copyImage(docker, second.docker, image);
const builder = new DockerImageBuilder(docker, {
  agentImage: image,
  registry: registry.address,
  network: "none",
});
const push = new DockerRegistry(docker, registry.address);
const scratch = mkdtempSync(join(tmpdir(), "cc-bench-build-"));
const user = `bench${randomBytes(3).toString("hex")}`;
const made: string[] = [];

const phases = ["clone", "cold build", "push", "warm build", "warm push", "pull elsewhere"] as const;
const times = new Map<(typeof phases)[number], number[]>(phases.map((p) => [p, []]));
async function timed<T>(phase: (typeof phases)[number], work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  times.get(phase)?.push(performance.now() - started);
  return result;
}

try {
  for (let run = 0; run < runs; run++) {
    const nonce = randomBytes(6).toString("hex");
    const dockerfile = [
      `FROM ${image}`,
      "USER root",
      "COPY package.json /opt/app/package.json",
      // Work the cache has never seen: a few MB written by a script, like a small dependency install.
      `RUN node -e "const fs=require('fs');for(let i=0;i<200;i++)fs.writeFileSync('/opt/app/f'+i,'${nonce}'.repeat(2000))"`,
      "",
    ].join("\n");
    const files = (readme: string) => ({
      Dockerfile: dockerfile,
      "package.json": JSON.stringify({ name: "app", version: "1.0.0", private: true }),
      "README.md": readme,
    });
    const coldUrl = git.createRepo("public", `cold-${nonce}`, files("# first\n"));
    const warmUrl = git.createRepo("public", `warm-${nonce}`, files("# a later commit\n"));

    /** The repository's own Dockerfile with our layer, tagged under the registry (what the service does). */
    const build = async (dir: string, commit: string) => {
      const built = await builder.build({
        user,
        project: "app",
        revision: commit.slice(0, 12),
        contextDir: dir,
        source: { kind: "repo" },
      });
      made.push(built.tag);
      return built;
    };

    const coldDir = join(scratch, `cold-${nonce}`);
    const clone = await timed("clone", () => cloneRepository({ url: coldUrl, dir: coldDir }));
    const cold = await timed("cold build", () => build(coldDir, clone.commit));
    const pushed = await timed("push", () => push.push(cold.tag));

    const warmDir = join(scratch, `warm-${nonce}`);
    const warmClone = await cloneRepository({ url: warmUrl, dir: warmDir });
    const warm = await timed("warm build", () => build(warmDir, warmClone.commit));
    await timed("warm push", () => push.push(warm.tag));
    await timed("pull elsewhere", () => pullImage(second.docker, pushed.reference));
    await second.docker
      .getImage(pushed.reference)
      .remove({ force: true })
      .catch(() => {});
    console.error(`run ${run + 1}/${runs}: ${cold.steps} steps; cold ${Math.round(cold.durationMs)} ms`);
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(`| phase | median ms | min ms | max ms |  (${runs} runs)`);
  console.log("|---|---|---|---|");
  for (const phase of phases) {
    const xs = times.get(phase) ?? [];
    console.log(
      `| ${phase} | ${Math.round(median(xs))} | ${Math.round(Math.min(...xs))} | ${Math.round(Math.max(...xs))} |`,
    );
  }
} finally {
  for (const tag of made)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
  await git.close();
  await second.stop();
}
