import { createReadStream, readFileSync } from "node:fs";
import type Dockerode from "dockerode";
import { DEFAULT_AGENT_IMAGE } from "../vm/images/names.ts";
import { packContext } from "./context.ts";
import {
  CONTEXT_DIR,
  carriedEnv,
  countInstructions,
  imageTag,
  LABELS,
  layerDockerfile,
  templateDockerfile,
} from "./layer.ts";
import {
  BuildFailedError,
  type BuildRequest,
  type BuildStep,
  BuildTimeoutError,
  type BuiltImage,
  type ImageBuilder,
} from "./port.ts";
import { Limiter, LogTail, readBuildStream } from "./stream.ts";

export interface DockerImageBuilderOptions {
  /** The agent image whose files are layered on (default `cloudclaude-agent:latest`). */
  readonly agentImage?: string;
  /** Prefix of every tag (`127.0.0.1:5000`, `registry.example.com`); none: local tags only. */
  readonly registry?: string | undefined;
  /** Builds running at once on this engine (default 2); more wait their turn. */
  readonly concurrency?: number;
  /** Per build, from its start (not its wait for a turn); default 20 minutes. */
  readonly timeoutMs?: number;
  /** Network of RUN steps (`default`, `none`, a network name); default: the engine's default. */
  readonly network?: string;
}

const SETUP_SCRIPT = readFileSync(new URL("./image-setup.ts", import.meta.url), "utf8");

/**
 * Builds environment images with the engine's classic builder (`/build`; its cache is used, intermediate
 * containers are removed). Two builds per image: the project stage (its Dockerfile, a given Dockerfile or
 * a template) is built untagged, then our layer FROM its id is built and tagged, so a failure at any point
 * leaves no tag behind (only untagged intermediate images, which are the build cache).
 */
export class DockerImageBuilder implements ImageBuilder {
  readonly #docker: Dockerode;
  readonly #agentImage: string;
  readonly #registry: string | undefined;
  readonly #timeoutMs: number;
  readonly #network: string | undefined;
  readonly #limiter: Limiter;

  constructor(docker: Dockerode, options: DockerImageBuilderOptions = {}) {
    this.#docker = docker;
    this.#agentImage = options.agentImage ?? DEFAULT_AGENT_IMAGE;
    this.#registry = options.registry;
    this.#timeoutMs = options.timeoutMs ?? 20 * 60_000;
    this.#network = options.network;
    this.#limiter = new Limiter(options.concurrency ?? 2);
  }

  /** The tag a request gets. */
  tagFor(request: Pick<BuildRequest, "user" | "project" | "revision">): string {
    return imageTag({ registry: this.#registry, ...request });
  }

  build(request: BuildRequest): Promise<BuiltImage> {
    const tag = this.tagFor(request);
    return this.#limiter.run(() => this.#build(request, tag));
  }

  async removeImages(owner: Pick<BuildRequest, "user" | "project">): Promise<number> {
    const label = [
      `${LABELS.managed}=true`,
      `${LABELS.image}=project`,
      `${LABELS.user}=${owner.user}`,
      `${LABELS.project}=${owner.project}`,
    ];
    let removed = 0;
    for (const image of await this.#docker.listImages({ filters: { label } })) {
      const tags = (image.RepoTags ?? []).filter((tag) => !tag.startsWith("<none>"));
      try {
        // Not forced: an image a container still runs stays (the engine answers 409). Untagging the last
        // tag removes the image (and its untagged parents: that project's build cache).
        for (const name of tags.length > 0 ? tags : [image.Id]) await this.#docker.getImage(name).remove();
        removed++;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== 409 && status !== 404) throw error;
      }
    }
    return removed;
  }

  async #build(request: BuildRequest, tag: string): Promise<BuiltImage> {
    const started = Date.now();
    const abort = new AbortController();
    const tail = new LogTail(20);
    let lastStep: BuildStep | undefined;
    const onStep = (step: BuildStep) => {
      lastStep = step;
      request.onProgress?.(step);
    };
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const agent = await this.#docker
        .getImage(this.#agentImage)
        .inspect()
        .catch((error: unknown) => {
          const missing = (error as { statusCode?: number }).statusCode === 404;
          throw new BuildFailedError(
            missing
              ? `the agent image ${this.#agentImage} is missing on this engine: build it with \`cloudclaude images build\``
              : `the agent image ${this.#agentImage} cannot be inspected: ${(error as Error).message}`,
            "",
            undefined,
            { cause: error },
          );
        });
      const labels = {
        [LABELS.managed]: "true",
        [LABELS.user]: request.user,
        [LABELS.project]: request.project,
        [LABELS.revision]: request.revision,
        [LABELS.image]: "project",
      };
      // Our layer's length does not depend on the stage's id: count it up front for "step i/total".
      const layerSteps = (derived: boolean) =>
        countInstructions(
          layerDockerfile({
            stage: "x",
            agentImage: this.#agentImage,
            derived,
            env: carriedEnv(agent.Config.Env),
            labels,
          }),
        );
      const maxLayer = layerSteps(false);

      const stage = await this.#run(
        await this.#stageContext(request),
        { dockerfile: this.#stageDockerfile(request) },
        { phase: "project", offset: 0, total: (n) => n + maxLayer },
        tail,
        abort.signal,
        onStep,
      );
      const stageImage = await this.#docker.getImage(stage.imageId).inspect();
      const agentLayers = agent.RootFS.Layers ?? [];
      const derived = agentLayers.every((layer, i) => stageImage.RootFS.Layers?.[i] === layer);
      const dockerfile = layerDockerfile({
        stage: stage.imageId,
        agentImage: this.#agentImage,
        derived,
        env: carriedEnv(agent.Config.Env),
        labels,
      });
      const total = stage.steps + layerSteps(derived);
      const final = await this.#run(
        await packContext({
          source: request.contextDir,
          under: "workspace",
          extras: {
            [`${CONTEXT_DIR}/Dockerfile`]: dockerfile,
            [`${CONTEXT_DIR}/image-setup.ts`]: SETUP_SCRIPT,
          },
        }),
        {
          dockerfile: `${CONTEXT_DIR}/Dockerfile`,
          t: tag,
        },
        { phase: "agent", offset: stage.steps, total: () => total },
        tail,
        abort.signal,
        onStep,
      );
      return { tag, imageId: final.imageId, steps: total, durationMs: Date.now() - started };
    } catch (error) {
      if (abort.signal.aborted) {
        await this.#untagIfNewer(tag, started);
        throw new BuildTimeoutError(this.#timeoutMs, tail.toString(), lastStep);
      }
      if (error instanceof BuildFailedError) throw error;
      throw new BuildFailedError(
        `the build of ${tag} failed: ${(error as Error).message}`,
        tail.toString(),
        lastStep,
        {
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  #stageDockerfile(request: BuildRequest): string {
    const source = request.source;
    if (source.kind === "repo") return source.path ?? "Dockerfile";
    return `${CONTEXT_DIR}/Dockerfile`;
  }

  #stageContext(request: BuildRequest) {
    const source = request.source;
    const text =
      source.kind === "dockerfile"
        ? source.text
        : source.kind === "template"
          ? templateDockerfile(source.template, this.#agentImage)
          : undefined;
    return packContext({
      source: request.contextDir,
      extras: text === undefined ? {} : { [`${CONTEXT_DIR}/Dockerfile`]: text },
    });
  }

  async #run(
    context: Awaited<ReturnType<typeof packContext>>,
    options: { dockerfile: string; t?: string },
    numbering: Parameters<typeof readBuildStream>[2],
    tail: LogTail,
    signal: AbortSignal,
    onStep: (step: BuildStep) => void,
  ): Promise<{ imageId: string; steps: number }> {
    try {
      const answer = await this.#docker.buildImage(createReadStream(context.file), {
        dockerfile: options.dockerfile,
        ...(options.t ? { t: options.t } : {}),
        rm: true,
        forcerm: true,
        pull: false,
        ...(this.#network ? { networkmode: this.#network } : {}),
        abortSignal: signal,
      } as Dockerode.ImageBuildOptions);
      const result = await readBuildStream(answer, tail, numbering, onStep);
      if (result.error !== undefined || result.imageId === undefined) {
        const at = result.lastStep ? ` at ${result.lastStep.text}` : "";
        throw new BuildFailedError(
          `the build failed${at}: ${result.error ?? "the engine reported no image"}`,
          tail.toString(),
          result.lastStep,
        );
      }
      return { imageId: result.imageId, steps: result.steps };
    } finally {
      await context.dispose();
    }
  }

  /** After an abort the engine may still have finished the last step: a tag made by this build goes. */
  async #untagIfNewer(tag: string, since: number): Promise<void> {
    try {
      const image = await this.#docker.getImage(tag).inspect();
      if (Date.parse(image.Created) >= since - 1_000)
        await this.#docker.getImage(tag).remove({ noprune: true });
    } catch {}
  }
}
