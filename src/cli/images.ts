import type { Command } from "commander";
import type Dockerode from "dockerode";
import { errorMessage } from "../shared/errors.ts";

/**
 * `cloudclaude images …`: the agent image that switchboards and project VMs run on Docker. Needs no
 * configuration, only an engine. The builder is imported on use, so other commands do not load dockerode.
 */
export function registerImageCommands(program: Command): void {
  const images = program
    .command("images")
    .description("Build and list the agent images (what switchboards and project VMs run on Docker).");
  const hostOption = [
    "--docker-host <url>",
    "the engine: unix:///path.sock, tcp://host:port or ssh://user@host (default: DOCKER_HOST, else /var/run/docker.sock)",
  ] as const;

  images
    .command("build")
    .description(
      "Build the agent image (tagged cloudclaude-agent:<content hash> and :latest); skipped when " +
        "nothing changed. Without --offline the engine builds images/agent/Dockerfile FROM " +
        "node:24-bookworm-slim, which needs Docker Hub or a mirror.",
    )
    .option(
      "--offline",
      "no registry: a base image assembled from this host (its Node.js, git, shell, CA certificates, " +
        "node_modules via npm ci) and docker-imported, then the agent layers on top",
    )
    .option("--test", "the test variant: fake Claude Code inside, tagged cloudclaude-agent-test")
    .option(...hostOption)
    .action(async (options: { offline?: boolean; test?: boolean; dockerHost?: string }) => {
      const { buildImages } = await import("../vm/images/index.ts");
      const docker = await connect(options.dockerHost);
      const started = Date.now();
      const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
      const result = await buildImages(docker, {
        offline: options.offline ?? false,
        test: options.test ?? false,
        progress: (step) => console.error(`[${seconds()}] ${step}`),
      });
      if (options.offline) console.log(`base   ${result.base}`);
      console.log(`agent  ${result.agent}`);
      console.log(`       ${result.latest}`);
      console.log(result.built ? `built in ${seconds()}` : "up to date (nothing to build)");
    });

  images
    .command("ls")
    .description("List CloudClaude's images on the engine (label cloudclaude.image).")
    .option(...hostOption)
    .action(async (options: { dockerHost?: string }) => {
      const { IMAGE_LABEL } = await import("../vm/images/index.ts");
      const docker = await connect(options.dockerHost);
      const found = await docker.listImages({ filters: { label: [IMAGE_LABEL] } });
      const rows = found
        .flatMap((image) =>
          (image.RepoTags ?? ["<none>:<none>"]).map((tag) => ({
            tag,
            kind: image.Labels?.[IMAGE_LABEL] ?? "?",
            id: image.Id.replace(/^sha256:/, "").slice(0, 12),
            size: `${Math.round(image.Size / 1e6)} MB`,
            created: new Date(image.Created * 1000).toISOString().slice(0, 16).replace("T", " "),
          })),
        )
        .sort((a, b) => (a.tag < b.tag ? -1 : 1));
      if (rows.length === 0) {
        console.log("no CloudClaude images: run `cloudclaude images build --offline`");
        return;
      }
      const width = Math.max(...rows.map((r) => r.tag.length));
      for (const r of rows) {
        console.log(
          `${r.tag.padEnd(width)}  ${r.kind.padEnd(10)}  ${r.id}  ${r.size.padStart(7)}  ${r.created}`,
        );
      }
    });
}

/** A client for the engine, checked: an unreachable engine fails here with the fix, not mid-build. */
async function connect(url: string | undefined): Promise<Dockerode> {
  const { dockerFromUrl } = await import("../vm/images/index.ts");
  const docker = dockerFromUrl(url);
  try {
    await docker.ping();
  } catch (error) {
    const where = url ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
    throw new Error(
      `no Docker engine answers at ${where} (${errorMessage(error)}): start dockerd (scripts/services.sh ` +
        "ensure_docker does it on Debian) or name another engine with --docker-host",
    );
  }
  return docker;
}
