import type { Kysely } from "kysely";
import type { DockerConfig } from "../../config/index.ts";
import type { Logger } from "../../shared/logger.ts";
import type { Database } from "../../store/schema.ts";
import { VmManager } from "../manager.ts";
import { VmRecords } from "../records.ts";
import { dockerClient, parseHostList } from "./connection.ts";
import type { ContainerSettings, RegistryAuth } from "./container-spec.ts";
import { DockerHost } from "./host.ts";

/**
 * What every agent container gets, from the configuration; `registryAuth` is the login for the registry
 * of the projects' images (pulled onto a host that lacks one).
 */
export function containerSettings(
  config: DockerConfig,
  options: { registryAuth?: RegistryAuth | undefined } = {},
): ContainerSettings {
  return {
    instance: config.instance,
    image: config.image,
    network: config.network,
    limits: {
      memoryBytes: config.memoryMb * 1024 * 1024,
      nanoCpus: Math.round(config.cpus * 1e9),
      pids: config.pids,
      tmpBytes: 512 * 1024 * 1024,
    },
    ...(options.registryAuth && { registryAuth: options.registryAuth }),
  };
}

/** The configured pool of Docker hosts. */
export function createDockerHosts(
  config: DockerConfig,
  logger: Logger,
  options: { sshAgent?: string | undefined; registryAuth?: RegistryAuth | undefined } = {},
): DockerHost[] {
  const settings = containerSettings(
    config,
    options.registryAuth ? { registryAuth: options.registryAuth } : {},
  );
  return parseHostList(config.hosts).map(
    (endpoint) =>
      new DockerHost({
        name: endpoint.name,
        docker: dockerClient(endpoint, { tlsDir: config.tlsDir, sshAgent: options.sshAgent }),
        settings,
        logger,
      }),
  );
}

/** A VM Manager over the configured pool, its records in the given database. */
export function createVmManager(
  config: DockerConfig,
  db: Kysely<Database>,
  logger: Logger,
  options: { sshAgent?: string | undefined; registryAuth?: RegistryAuth | undefined } = {},
): VmManager {
  return new VmManager({
    records: new VmRecords(db),
    hosts: createDockerHosts(config, logger, options),
    capacityPerHost: config.capacityPerHost,
    logger,
  });
}
