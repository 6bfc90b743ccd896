import { hostname } from "node:os";
import path from "node:path";
import type { Kysely } from "kysely";
import type { BuildConfig, Config } from "../config/index.ts";
import type { Outbox } from "../delivery/port.ts";
import { knownSecrets } from "../secrets/redact.ts";
import type { Logger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import type { Database } from "../store/schema.ts";
import { dockerClient, parseHostList } from "../vm/docker/connection.ts";
import { DockerImageBuilder } from "./docker-builder.ts";
import { DockerRegistry } from "./registry.ts";
import { BuildService } from "./service.ts";

export { DockerImageBuilder, type DockerImageBuilderOptions } from "./docker-builder.ts";
export { CloneError, cloneRepository } from "./git.ts";
export { type BuildJob, BuildJobs, type BuildOutcome, type BuildStatus } from "./jobs.ts";
export * from "./port.ts";
export { DockerRegistry, pullImage } from "./registry.ts";
export {
  type BuildNotify,
  type BuildRecord,
  BuildRequestError,
  BuildService,
  type BuildServiceOptions,
} from "./service.ts";
export { revisionOf } from "./sources.ts";

export interface BuildServiceDeps {
  readonly db: Kysely<Database>;
  readonly store: Store;
  /** Redacting (guardOutbox) in the server: build logs may echo a secret. */
  readonly outbox: Outbox;
  readonly kickDelivery: () => void;
  readonly logger: Logger;
  /** This process in the builds' leases; default `<hostname>:<pid>`. */
  readonly holder?: string | undefined;
  /** How long a build's lease lasts before another process may take it over (default 60 s). */
  readonly leaseMs?: number;
  readonly now?: () => number;
}

/** The login for the configured registry, as the engine's X-Registry-Auth wants it (none without one). */
export function registryAuthOf(
  build: BuildConfig,
): { username: string; password: string; serveraddress: string } | undefined {
  if (!build.registry || !build.registryUser || !build.registryPassword) return undefined;
  return { username: build.registryUser, password: build.registryPassword, serveraddress: build.registry };
}

/**
 * The Build Service as configured: a `DockerImageBuilder` on the build host of the pool
 * (CLOUDCLAUDE_BUILD_HOST, default the first of CLOUDCLAUDE_DOCKER_HOSTS), pushing to CLOUDCLAUDE_REGISTRY
 * when one is set, clones under `<dataDir>/builds`.
 */
export function createBuildService(config: Config, deps: BuildServiceDeps): BuildService {
  const hosts = parseHostList(config.docker.hosts);
  const host = config.build.host ? hosts.find((h) => h.name === config.build.host) : hosts[0];
  if (!host) {
    throw new Error(
      `CLOUDCLAUDE_BUILD_HOST=${config.build.host} is not a host of CLOUDCLAUDE_DOCKER_HOSTS (${hosts.map((h) => h.name).join(", ")}): use one of those names, or unset it`,
    );
  }
  const docker = dockerClient(host, { tlsDir: config.docker.tlsDir });
  const auth = registryAuthOf(config.build);
  if (auth) knownSecrets.add(auth.password);
  const builder = new DockerImageBuilder(docker, {
    agentImage: config.docker.image,
    registry: config.build.registry,
    concurrency: config.build.concurrency,
    timeoutMs: config.build.timeoutMs,
    ...(config.build.network && { network: config.build.network }),
  });
  const registry = config.build.registry
    ? new DockerRegistry(docker, config.build.registry, auth)
    : undefined;
  deps.logger.info(
    { host: host.name, registry: config.build.registry ?? null, concurrency: config.build.concurrency },
    registry ? "environment builds push to the registry" : "environment builds stay local tags (no registry)",
  );
  return new BuildService({
    db: deps.db,
    store: deps.store,
    builder,
    registry,
    outbox: deps.outbox,
    kickDelivery: deps.kickDelivery,
    logger: deps.logger,
    holder: deps.holder ?? `${hostname()}:${process.pid}`,
    workDir: path.join(config.dataDir, "builds"),
    concurrency: config.build.concurrency,
    agentImage: config.docker.image,
    ...(deps.leaseMs !== undefined && { leaseMs: deps.leaseMs }),
    ...(deps.now && { now: deps.now }),
  });
}
