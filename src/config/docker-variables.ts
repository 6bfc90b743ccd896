import { z } from "zod";
import type { VariableSpec } from "./spec.ts";

/** The Docker runtime's variables (CLOUDCLAUDE_RUNTIME=docker): part of the catalog in variables.ts. */
export const DOCKER_VARIABLES = {
  CLOUDCLAUDE_DOCKER_HOSTS: {
    schema: z
      .string()
      .regex(
        /^\s*([a-z0-9-]+=)?(unix|tcp|ssh):\/\/[^,\s]+\s*(,\s*([a-z0-9-]+=)?(unix|tcp|ssh):\/\/[^,\s]+\s*)*$/,
      ),
    default: "unix:///var/run/docker.sock",
    group: "Docker",
    description:
      "The pool of Docker engines agents run on, comma-separated [name=]url (unix://, tcp://, ssh://). Names are recorded: keep them stable.",
    expect: "comma-separated [name=]unix://…, tcp://host:port or ssh://user@host",
    fix: "Use e.g. local=unix:///var/run/docker.sock,gpu1=tcp://10.0.0.5:2376",
  },
  CLOUDCLAUDE_DOCKER_TLS_DIR: {
    schema: z.string().min(1),
    group: "Docker",
    description:
      "Directory with ca.pem, cert.pem and key.pem for tcp:// hosts (as DOCKER_CERT_PATH); unset means plain TCP.",
    expect: "a directory path",
    fix: "Point it at the client certificates the engines trust, or unset it.",
  },
  CLOUDCLAUDE_AGENT_IMAGE: {
    schema: z.string().regex(/^[a-z0-9][a-z0-9._/:@-]*$/),
    default: "cloudclaude-agent:latest",
    group: "Docker",
    description: "Image of switchboards and project VMs (build it with `cloudclaude images build`).",
    expect: "an image reference",
    fix: "Use e.g. cloudclaude-agent:latest or registry.example.com/cloudclaude-agent:1.2",
  },
  CLOUDCLAUDE_AGENT_NETWORK: {
    schema: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/),
    default: "bridge",
    group: "Docker",
    description:
      "Docker network of agent containers: bridge, a network you created, or none (no network at all).",
    expect: "a Docker network name",
    fix: "Use bridge, none, or the name of an existing network.",
  },
  CLOUDCLAUDE_AGENT_MEMORY_MB: {
    schema: z.coerce.number().int().min(128).max(1_048_576),
    default: "2048",
    group: "Docker",
    description: "Memory limit of each agent container, in MiB (no swap beyond it).",
    expect: "an integer from 128",
    fix: "Use e.g. 2048.",
  },
  CLOUDCLAUDE_AGENT_CPUS: {
    schema: z.coerce.number().min(0.1).max(256),
    default: "1",
    group: "Docker",
    description: "CPUs each agent container may use (fractions allowed).",
    expect: "a number from 0.1",
    fix: "Use e.g. 1 or 2.5.",
  },
  CLOUDCLAUDE_AGENT_PIDS: {
    schema: z.coerce.number().int().min(32).max(1_000_000),
    default: "512",
    group: "Docker",
    description: "Most processes an agent container may run at once.",
    expect: "an integer from 32",
    fix: "Use e.g. 512.",
  },
  CLOUDCLAUDE_HOST_CAPACITY: {
    schema: z.coerce.number().int().min(1).max(10_000),
    default: "20",
    group: "Docker",
    description:
      "Agents one Docker host keeps awake at once; new agents go to the least loaded host with room.",
    expect: "an integer from 1",
    fix: "Size it to the host's memory divided by CLOUDCLAUDE_AGENT_MEMORY_MB.",
  },
  CLOUDCLAUDE_SWITCHBOARD_IDLE_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(7 * 24 * 3_600_000),
    default: "1800000",
    group: "Docker",
    description:
      "A switchboard idle this long is removed (its volume and conversations stay; the next message recreates it).",
    expect: "milliseconds from 1000",
    fix: "Use e.g. 1800000 (30 minutes).",
  },
  CLOUDCLAUDE_VM_IDLE_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(30 * 24 * 3_600_000),
    default: "1800000",
    group: "Docker",
    description: "A project VM idle this long is stopped (its disk stays; the next message starts it).",
    expect: "milliseconds from 1000",
    fix: "Use e.g. 1800000 (30 minutes).",
  },
  CLOUDCLAUDE_INSTANCE: {
    schema: z.string().regex(/^[a-z0-9][a-z0-9-]{0,20}$/),
    default: "main",
    group: "Docker",
    description:
      "Name of this installation, in its container names and labels: two installations sharing an engine never touch each other's agents.",
    expect: "a-z, 0-9 and -, at most 21 characters",
    fix: "Use e.g. main or staging.",
  },
} as const satisfies Record<string, VariableSpec>;
