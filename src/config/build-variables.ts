import { z } from "zod";
import type { VariableSpec } from "./spec.ts";

/**
 * The Build Service's variables (environment images of projects, CLOUDCLAUDE_RUNTIME=docker): part of the
 * catalog in variables.ts. See docs/build-service.md.
 */
export const BUILD_VARIABLES = {
  CLOUDCLAUDE_REGISTRY: {
    schema: z
      .string()
      .regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/)
      .transform((s) => s.replace(/\/+$/, "")),
    group: "Docker",
    description:
      "Registry the built environment images are pushed to, so every host of the pool can pull them (host[:port], e.g. 127.0.0.1:5000). Unset: images stay local tags on the build host, which then must be the only host.",
    expect: "a registry address, host[:port] without a scheme",
    fix: "Use e.g. registry.example.com or 127.0.0.1:5000 (no https://), or unset it on a single host.",
  },
  CLOUDCLAUDE_REGISTRY_USER: {
    schema: z.string().min(1),
    group: "Docker",
    description: "User name for CLOUDCLAUDE_REGISTRY (pushes and the hosts' pulls); unset: no login.",
    expect: "a user name",
    fix: "Set the registry account's name, or unset it for a registry without login.",
  },
  CLOUDCLAUDE_REGISTRY_PASSWORD: {
    schema: z.string().min(1),
    secret: true,
    group: "Docker",
    description: "Password or access token of CLOUDCLAUDE_REGISTRY_USER.",
    expect: "a password or token",
    fix: "Set the registry account's password or token, or unset it with CLOUDCLAUDE_REGISTRY_USER.",
  },
  CLOUDCLAUDE_BUILD_HOST: {
    schema: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/),
    group: "Docker",
    description:
      "Name of the host of CLOUDCLAUDE_DOCKER_HOSTS that builds environment images (their RUN steps run there as root). Default: the first host.",
    expect: "a host name from CLOUDCLAUDE_DOCKER_HOSTS",
    fix: "Use a name given in CLOUDCLAUDE_DOCKER_HOSTS (name=url), e.g. build1, or unset it.",
  },
  CLOUDCLAUDE_BUILD_CONCURRENCY: {
    schema: z.coerce.number().int().min(1).max(64),
    default: "2",
    group: "Docker",
    description: "Environment builds run at once; more wait their turn.",
    expect: "an integer from 1 to 64",
    fix: "Use e.g. 2 (builds are CPU- and disk-heavy).",
  },
  CLOUDCLAUDE_BUILD_TIMEOUT_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(10_000)
      .max(6 * 3_600_000),
    default: "1200000",
    group: "Docker",
    description: "A build still running after this long is stopped and reported as timed out.",
    expect: "milliseconds from 10000 to 21600000",
    fix: "Use e.g. 1200000 (20 minutes).",
  },
  CLOUDCLAUDE_BUILD_NETWORK: {
    // Never `host`: people's Dockerfiles run as root in RUN steps and would reach the build host's own
    // services on 127.0.0.1 (the database, the registry).
    schema: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/)
      .refine((name) => name !== "host"),
    group: "Docker",
    description:
      "Docker network of the builds' RUN steps (default, none, or a network name; never host). Unset: the engine's default, so `npm ci` and `apt-get` can download.",
    expect: "a Docker network name other than host",
    fix: "Use none (no network at all), default, or the name of an existing network; or unset it. host is refused: people's RUN steps would reach this machine's own services.",
  },
} as const satisfies Record<string, VariableSpec>;
