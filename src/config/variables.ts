import { z } from "zod";
import { BUILD_VARIABLES } from "./build-variables.ts";
import { DOCKER_VARIABLES } from "./docker-variables.ts";
import { PLATFORM_VARIABLES } from "./platform-variables.ts";
import { port, positiveMs, type VariableSpec } from "./spec.ts";

export type { VariableSpec };

/**
 * The catalog of every environment variable CloudClaude reads (the Docker runtime's, the builds' and the chat
 * platforms' live in their own files and are spread in here). Entries are described by `VariableSpec` (spec.ts).
 */
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
  INBOX_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(100),
    default: "5",
    group: "Inbox",
    description:
      "Failed attempts after which an inbound message goes to the dead letters (`cloudclaude inbox dead`).",
    expect: "an integer from 1 to 100",
    fix: "Use e.g. 5.",
  },
  INBOX_RETENTION_HOURS: {
    schema: z.coerce
      .number()
      .int()
      .min(24)
      .max(24 * 90),
    default: "48",
    group: "Inbox",
    description:
      "How long handled messages (and so their dedupe keys) are kept. At least 24 h: platforms retry for up to a day.",
    expect: "hours, an integer from 24 to 2160",
    fix: "Use e.g. 48.",
  },
  CLOUDCLAUDE_RUNTIME: {
    schema: z.enum(["process", "docker"]),
    default: "process",
    group: "Agents",
    description:
      "Where switchboards and VMs run: process (local child processes; isolates nothing, for development) or docker.",
    expect: "process or docker",
    fix: "Use process to try CloudClaude locally, docker in production.",
  },
  CLOUDCLAUDE_ADMINS: {
    schema: z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x.length > 0),
      )
      .pipe(z.array(z.string().regex(/^(line|slack|discord|telegram|webchat):[^\s:][^\s]*$/))),
    group: "Agents",
    description:
      "Comma-separated platform:userId of the people whose agents may use this server's Claude credential, e.g. telegram:1001,line:U4af4…",
    expect: "a comma-separated list of platform:userId",
    fix: "Use e.g. telegram:1001,slack:T0123:U0456 (platforms: line, slack, discord, telegram, webchat).",
  },
  ANTHROPIC_API_KEY: {
    schema: z.string().min(10),
    secret: true,
    group: "Agents",
    description:
      "Claude credential passed to the agents of CLOUDCLAUDE_ADMINS (never shared with anyone else).",
    expect: "an Anthropic API key",
    fix: "Create one at console.anthropic.com, or use CLAUDE_CODE_OAUTH_TOKEN for your own subscription.",
  },
  CLAUDE_CODE_OAUTH_TOKEN: {
    schema: z.string().min(10),
    secret: true,
    group: "Agents",
    description:
      "Your own subscription token (`claude setup-token`), for your own agents only: Anthropic's terms forbid serving others with it.",
    expect: "a token from `claude setup-token`",
    fix: "Run `claude setup-token` and paste its output, or use ANTHROPIC_API_KEY.",
  },
  CLOUDCLAUDE_ACCESS: {
    schema: z.enum(["allowlist", "invite", "open"]),
    default: "allowlist",
    group: "Agents",
    description:
      "Who may use this server: allowlist (CLOUDCLAUDE_ADMINS and the people they /invite or `users allow`), invite (anyone with an /invite code), open (anyone, with their own Claude credential).",
    expect: "allowlist, invite or open",
    fix: "Use allowlist for a personal or team install, invite or open for a shared one.",
  },
  CLOUDCLAUDE_MASTER_KEY: {
    schema: z
      .string()
      .regex(
        /^\s*(?:[A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})\s*(?:,\s*(?:[A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})\s*)*$/,
      ),
    secret: true,
    group: "Storage",
    description:
      "Master key(s) that encrypt people's credentials at rest, comma-separated, the first current (the others are read during `cloudclaude keys rotate`). Unset: a key file is used.",
    expect: "32 random bytes in base64 or hex, comma-separated",
    fix: "Generate one with `openssl rand -base64 32`, or unset it to use the key file.",
  },
  CLOUDCLAUDE_MASTER_KEY_FILE: {
    schema: z.string().min(1),
    group: "Storage",
    description:
      "Key file used when CLOUDCLAUDE_MASTER_KEY is unset; created (mode 0600) on first start. Default: $CLOUDCLAUDE_DATA_DIR/keys/master-key.json. Back it up apart from the database.",
    expect: "a file path",
    fix: "Point it at a path on a disk only this server can read, or unset it.",
  },
  CLAUDE_CODE_EXECUTABLE: {
    schema: z.string().min(1),
    group: "Agents",
    description:
      "Path of the Claude Code executable the agents run (default: the one bundled with the Agent SDK).",
    expect: "a file path",
    fix: "Point it at an executable `claude`, or unset it.",
  },
  CLOUDCLAUDE_ATTACHMENT_MAX_BYTES: {
    schema: z.coerce
      .number()
      .int()
      .min(1)
      .max(40 * 1024 * 1024),
    default: "20971520",
    group: "Agents",
    description:
      "Largest file a person may send the agent (bytes, per file; at most 40 MiB). Larger ones are not downloaded, and the person and the agent are told.",
    expect: "an integer from 1 to 41943040",
    fix: "Use e.g. 20971520 (20 MiB).",
  },
  CLOUDCLAUDE_ATTACHMENT_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(1_000).max(600_000),
    default: "60000",
    group: "Agents",
    description: "How long downloading one file a person sent may take before it is given up on.",
    expect: "an integer from 1000 to 600000",
    fix: "Use e.g. 60000.",
  },
  CLOUDCLAUDE_TURN_TIMEOUT_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(24 * 3_600_000),
    default: "1800000",
    group: "Agents",
    description: "A turn still running after this long is interrupted and the person told.",
    expect: "milliseconds from 1000 to 86400000",
    fix: "Use e.g. 1800000 (30 minutes).",
  },
  CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(24 * 3_600_000),
    default: "600000",
    group: "Agents",
    description: "How long a tool permission request waits for /approve or /deny before it is denied.",
    expect: "milliseconds from 1000 to 86400000",
    fix: "Use e.g. 600000 (10 minutes).",
  },
  CLOUDCLAUDE_AGENT_IDLE_MS: {
    schema: z.coerce
      .number()
      .int()
      .min(1_000)
      .max(24 * 3_600_000),
    default: "600000",
    group: "Agents",
    description:
      "A conversation's live Claude session is closed after this long without a turn (resumed on the next).",
    expect: "milliseconds from 1000 to 86400000",
    fix: "Use e.g. 600000 (10 minutes).",
  },
  CLOUDCLAUDE_WEBCHAT: {
    schema: z.enum(["auto", "on", "off"]),
    default: "auto",
    group: "Agents",
    description:
      "Serve the webchat page at / (a person chats with their switchboard; no chat app needed). auto: only on a local server (no CLOUDCLAUDE_PUBLIC_URL, CLOUDCLAUDE_HOST a loopback address), where the webchat user is the local operator (an admin). on: also on a public server, where webchat:local is an ordinary identity (admit it explicitly).",
    expect: "auto, on or off",
    fix: "Use auto (the default), or off on a public server.",
  },
  CLOUDCLAUDE_LANGUAGE: {
    schema: z.enum(["en", "zh-TW"]),
    default: "en",
    group: "Agents",
    description:
      "Language of the system's own chat messages when the platform gives no hint (/lang overrides).",
    expect: "en or zh-TW",
    fix: "Use en or zh-TW.",
  },
  ...DOCKER_VARIABLES,
  ...BUILD_VARIABLES,
  DELIVERY_EDIT_INTERVAL_MS: {
    schema: z.coerce.number().int().min(100).max(60_000),
    default: "1000",
    group: "Delivery",
    description:
      "Minimum time between two updates of a reply being streamed (edits, stream appends, drafts) in a one-to-one chat.",
    expect: "milliseconds from 100 to 60000",
    fix: "Use e.g. 1000; lower values risk the platforms' rate limits.",
  },
  DELIVERY_GROUP_EDIT_INTERVAL_MS: {
    schema: z.coerce.number().int().min(100).max(60_000),
    default: "3000",
    group: "Delivery",
    description:
      "The same in group chats, where platforms allow less (Telegram: about 20 messages a minute per group).",
    expect: "milliseconds from 100 to 60000",
    fix: "Use e.g. 3000.",
  },
  DELIVERY_BOT_RATE: {
    schema: z.coerce.number().int().min(1).max(1_000),
    default: "25",
    group: "Delivery",
    description: "Calls per second one bot makes to its platform, all chats together.",
    expect: "an integer from 1 to 1000",
    fix: "Use e.g. 25 (Telegram allows about 30 a second, Discord 50).",
  },
  DELIVERY_ATTACH_AFTER_CHUNKS: {
    schema: z.coerce.number().int().min(0).max(100),
    default: "3",
    group: "Delivery",
    description:
      "An answer longer than this many messages is sent as a short head plus the whole text as a file (Telegram, Discord, Slack; LINE bots cannot send files, so it stays in messages there). 0 never attaches.",
    expect: "an integer from 0 to 100",
    fix: "Use e.g. 3.",
  },
  ...PLATFORM_VARIABLES,
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
