import { z } from "zod";

/**
 * The catalog of every environment variable CloudClaude reads. It is the single source for parsing
 * (`loadConfig`), for `cloudclaude config check`, and for `.env.example` (a test keeps that file in step).
 *
 * Each entry says what a valid value looks like (`expect`) and how to fix a bad one (`fix`), so that a
 * bad value becomes one line naming the variable, the value and the remedy.
 */
export interface VariableSpec {
  /** Parses the raw string (never empty: empty strings count as unset). */
  readonly schema: z.ZodType;
  /** Used when the variable is unset. `undefined` means the setting is optional. */
  readonly default?: string;
  /** Masked in `config check` and never logged. */
  readonly secret?: boolean;
  readonly group: "Server" | "Storage" | "Logging";
  readonly description: string;
  readonly expect: string;
  readonly fix: string;
}

const port = z.coerce.number().int().min(1).max(65_535);
const positiveMs = z.coerce.number().int().min(0).max(3_600_000);

export const VARIABLES = {
  CLOUDCLAUDE_DATA_DIR: {
    schema: z.string().min(1),
    default: "./data",
    group: "Storage",
    description: "Directory for the SQLite database and per-agent state. Created when missing.",
    expect: "a directory path",
    fix: "Point it at a writable directory, e.g. /var/lib/cloudclaude.",
  },
  DATABASE_URL: {
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must start with postgres:// or postgresql://")
      .pipe(z.url()),
    secret: true,
    group: "Storage",
    description:
      "A postgres:// URL selects PostgreSQL; unset means SQLite at $CLOUDCLAUDE_DATA_DIR/cloudclaude.db.",
    expect: "a postgres:// URL",
    fix: "Use e.g. postgres://user:password@127.0.0.1:5432/cloudclaude, or unset it to use SQLite.",
  },
  CLOUDCLAUDE_HOST: {
    schema: z.string().min(1),
    default: "127.0.0.1",
    group: "Server",
    description: "Interface the HTTP server binds. Keep 127.0.0.1 behind a reverse proxy.",
    expect: "a host name or IP address",
    fix: "Use 127.0.0.1 (local only) or 0.0.0.0 (all interfaces).",
  },
  CLOUDCLAUDE_PORT: {
    schema: port,
    default: "8080",
    group: "Server",
    description: "TCP port of the HTTP server (webhooks, webchat, health, metrics).",
    expect: "an integer from 1 to 65535",
    fix: "Set it to a free TCP port, e.g. 8080.",
  },
  CLOUDCLAUDE_PUBLIC_URL: {
    schema: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
    group: "Server",
    description:
      "The https:// URL chat platforms reach this server at (webhook registration, links in chat).",
    expect: "an http(s):// URL",
    fix: "Use the public base URL, e.g. https://cloudclaude.example.com.",
  },
  CLOUDCLAUDE_SHUTDOWN_TIMEOUT_MS: {
    schema: positiveMs,
    default: "10000",
    group: "Server",
    description: "How long a graceful shutdown waits for in-flight work before closing anyway.",
    expect: "milliseconds, an integer from 0 to 3600000",
    fix: "Use e.g. 10000.",
  },
  LOG_LEVEL: {
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
    group: "Logging",
    description: "Minimum level of the JSON log lines written to stdout.",
    expect: "one of fatal, error, warn, info, debug, trace, silent",
    fix: "Use info in production and debug when investigating.",
  },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof VARIABLES;

export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[];

/** The parsed value of each variable (`undefined` when optional and unset). */
export type ParsedVariables = {
  [K in VariableName]: (typeof VARIABLES)[K] extends { default: string }
    ? z.output<(typeof VARIABLES)[K]["schema"]>
    : z.output<(typeof VARIABLES)[K]["schema"]> | undefined;
};
