import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { pino } from "pino";
import { type BuildSource, createBuildService, TEMPLATES, type TemplateName } from "../build/index.ts";
import type { Config } from "../config/index.ts";
import { createOutbox } from "../delivery/index.ts";
import { guardOutbox } from "../identity/outbound.ts";
import { loadSecrets, MissingKeyFileError, type SecretBox } from "../secrets/index.ts";
import { createLogger } from "../shared/logger.ts";
import { openStore, PLATFORMS, type Platform } from "../store/index.ts";

interface BuildOptions {
  template?: TemplateName;
  dockerfile?: string;
  as?: string;
}

/**
 * `cloudclaude projects build <name>`: builds a project's environment image in this process (the same
 * durable build a chat asks for: a server's workers would take it over if this command died), printing
 * each step, then the outcome. Needs the Docker runtime's configuration (the build host, the registry).
 */
export function registerBuildCommand(projects: Command, load: () => Config): void {
  projects.addCommand(
    new Command("build")
      .description(
        "Build a project's environment image here and now: the repository's Dockerfile (default), a template, or a Dockerfile file; with the agent layered on, pushed to CLOUDCLAUDE_REGISTRY when set, and recorded as the image the project's VM runs.",
      )
      .argument("<name>", "the project")
      .addOption(
        new Option(
          "--template <template>",
          "build from one of our templates instead of the repository's Dockerfile",
        ).choices(TEMPLATES),
      )
      .option(
        "--dockerfile <file>",
        "build from this Dockerfile (read here, built with the repository as its context)",
      )
      .option(
        "--as <platform:userId>",
        "who asks, e.g. telegram:1001: they must be the owner or a member (the owner's GitHub token clones); default the owner",
      )
      .addHelpText(
        "after",
        [
          "",
          "A build of the project that is already queued or running (asked from a chat) is run, or followed,",
          "instead of starting another. Exit code 0 when the image is built, 1 when the build failed (the",
          "last lines of its log are printed). The running VM keeps its old image until it is restarted.",
          "",
          "Examples:",
          "  cloudclaude projects build shop",
          "  cloudclaude projects build shop --template node",
          "  cloudclaude projects build shop --dockerfile ./Dockerfile.dev --as telegram:1001",
        ].join("\n"),
      )
      .action((name: string, options: BuildOptions) => runBuild(load(), name, options)),
  );
}

async function runBuild(config: Config, name: string, options: BuildOptions): Promise<void> {
  if (config.agents.runtime !== "docker") {
    throw new Error(
      "environment images are for the Docker runtime: set CLOUDCLAUDE_RUNTIME=docker (and CLOUDCLAUDE_DOCKER_HOSTS)",
    );
  }
  if (options.template && options.dockerfile) throw new Error("give --template or --dockerfile, not both");
  const source: BuildSource = options.dockerfile
    ? { kind: "dockerfile", text: readDockerfile(options.dockerfile) }
    : options.template
      ? { kind: "template", template: options.template }
      : { kind: "repo" };

  // The outcome is printed; the log says only what went wrong beside the build itself.
  const logger = createLogger({
    level: "error",
    name: "cloudclaude-cli",
    destination: pino.destination({ dest: 2, sync: true }),
  });
  const box = masterKeys(config);
  const { store, handle } = await openStore(config.database, box ? { secrets: box } : {});
  const service = createBuildService(config, {
    db: handle.db,
    store,
    outbox: guardOutbox(createOutbox(handle)),
    // A running server's dispatcher delivers what this build says in a chat (it polls the outbox).
    kickDelivery: () => {},
    logger,
  });
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error("stopping: the build's lease is released, so a running server takes it over");
    void service.stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const project = await store.projects.byName(name);
    if (!project) throw new Error(`no project named ${name} (cloudclaude projects ls lists them)`);
    const userId = options.as ? await userOf(store, options.as) : project.ownerUserId;
    if (!(await store.projects.mayUse(project.id, userId))) {
      throw new Error(`${options.as} is neither the owner nor a member of ${name}`);
    }
    if (source.kind === "repo" && !project.repoUrl) {
      throw new Error(
        `${name} has no repository, so there is no Dockerfile to build from: use --template or --dockerfile`,
      );
    }
    const { build, queued } = await service.request({ project, userId, source });
    console.log(
      queued
        ? `build ${build.id} of ${name} (${describeSource(source)})`
        : `a build of ${name} was ${build.status} already (${build.id}, ${describeSource(build.source)}): running it`,
    );
    const started = Date.now();
    const result = await service.runNow(build.id, (line) => console.log(line));
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.status === "succeeded") {
      console.log(`built ${name} in ${seconds} s: revision ${result.revision}`);
      console.log(`image: ${result.image}`);
      console.log(
        `the project's VM runs it from its next start (cloudclaude vm stop/start, or /vm restart ${name})`,
      );
    } else if (result.status === "failed") {
      console.error(`the build of ${name} failed: ${result.error}`);
      if (result.step) console.error(`at ${result.step}`);
      if (result.log) console.error(`--- last lines of the build log ---\n${result.log}`);
      process.exitCode = 1;
    } else {
      console.error(
        interrupted
          ? `stopped; build ${result.id} is ${result.status} and a running server takes it over`
          : `build ${result.id} is ${result.status} elsewhere`,
      );
      process.exitCode = 1;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await service.stop();
    await store.close();
  }
}

function readDockerfile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read the Dockerfile ${file}: ${(error as Error).message}`);
  }
}

function describeSource(source: BuildSource): string {
  if (source.kind === "repo") return `the repository's ${source.path ?? "Dockerfile"}`;
  if (source.kind === "template") return `the ${source.template} template`;
  return "a given Dockerfile";
}

/** The master keys, when there are any: without them no GitHub token can be read (public repos still build). */
function masterKeys(config: Config): SecretBox | undefined {
  try {
    return loadSecrets(config).box;
  } catch (error) {
    if (error instanceof MissingKeyFileError) return undefined;
    throw error;
  }
}

async function userOf(
  store: Awaited<ReturnType<typeof openStore>>["store"],
  identity: string,
): Promise<string> {
  const [platform, ...rest] = identity.split(":");
  if (!PLATFORMS.includes(platform as Platform) || rest.length === 0) {
    throw new Error(`--as must be platform:userId with platform one of ${PLATFORMS.join(", ")}`);
  }
  const found = await store.identities.find(platform as Platform, rest.join(":"));
  if (!found) throw new Error(`nobody is known as ${identity} here`);
  return found.userId;
}
