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
  readonly group:
    | "Server"
    | "Storage"
    | "Inbox"
    | "Agents"
    | "Delivery"
    | "Docker"
    | "LINE"
    | "Slack"
    | "Discord"
    | "Telegram"
    | "Logging";
  readonly description: string;
  readonly expect: string;
  readonly fix: string;
}

const port = z.coerce.number().int().min(1).max(65_535);
const positiveMs = z.coerce.number().int().min(0).max(3_600_000);
const onOff = z.enum(["on", "off"]);
const apiBase = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));

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
  LINE_CHANNEL_SECRET: {
    schema: z.string().min(8),
    secret: true,
    group: "LINE",
    description: "Channel secret (LINE Developers Console > Basic settings). Enables POST /webhooks/line.",
    expect: "the channel secret",
    fix: "Copy it from the console's Basic settings tab.",
  },
  LINE_CHANNEL_ACCESS_TOKEN: {
    schema: z.string().min(10),
    secret: true,
    group: "LINE",
    description: "Long-lived channel access token (Messaging API tab), for replies.",
    expect: "the channel access token",
    fix: "Issue one in the console's Messaging API tab.",
  },
  LINE_API_BASE_URL: {
    schema: apiBase,
    default: "https://api.line.me",
    group: "LINE",
    description: "Messaging API base URL (change only for a test double).",
    expect: "an http(s):// URL",
    fix: "Use https://api.line.me.",
  },
  LINE_DATA_API_BASE_URL: {
    schema: apiBase,
    default: "https://api-data.line.me",
    group: "LINE",
    description:
      "Base URL LINE serves the content of images, videos and files people send from (change only for a test double).",
    expect: "an http(s):// URL",
    fix: "Use https://api-data.line.me.",
  },
  LINE_BOT_USER_ID: {
    schema: z.string().regex(/^U[0-9a-f]{32}$/),
    group: "LINE",
    description: "The bot's user id; webhooks whose `destination` differs are refused.",
    expect: "U followed by 32 hex digits",
    fix: "Copy 'Your user ID' from the console's Basic settings tab, or unset it.",
  },
  SLACK_SIGNING_SECRET: {
    schema: z.string().min(8),
    secret: true,
    group: "Slack",
    description: "Signing secret (Slack app > Basic Information). Enables POST /webhooks/slack.",
    expect: "the signing secret",
    fix: "Copy it from the app's Basic Information page.",
  },
  SLACK_BOT_TOKEN: {
    schema: z.string().startsWith("xoxb-"),
    secret: true,
    group: "Slack",
    description: "Bot token (OAuth & Permissions), for replies.",
    expect: "a token starting with xoxb-",
    fix: "Copy the Bot User OAuth Token from OAuth & Permissions.",
  },
  SLACK_APP_TOKEN: {
    schema: z.string().startsWith("xapp-"),
    secret: true,
    group: "Slack",
    description: "App-level token with connections:write. When set, events also arrive over Socket Mode.",
    expect: "a token starting with xapp-",
    fix: "Create one under Basic Information > App-Level Tokens, or unset it.",
  },
  SLACK_API_URL: {
    schema: apiBase,
    default: "https://slack.com/api",
    group: "Slack",
    description: "Slack Web API base URL (change only for a test double).",
    expect: "an http(s):// URL",
    fix: "Use https://slack.com/api.",
  },
  DISCORD_PUBLIC_KEY: {
    schema: z.string().regex(/^[0-9a-fA-F]{64}$/),
    group: "Discord",
    description:
      "Application public key (Developer Portal > General Information). Enables POST /webhooks/discord.",
    expect: "64 hex digits",
    fix: "Copy the Public Key from the Developer Portal.",
  },
  DISCORD_APPLICATION_ID: {
    schema: z.string().regex(/^\d{15,22}$/),
    group: "Discord",
    description:
      "Application id; also the bot's user id, used to spot mentions and drop the bot's own messages.",
    expect: "a numeric snowflake id",
    fix: "Copy the Application ID from the Developer Portal.",
  },
  DISCORD_BOT_TOKEN: {
    schema: z.string().min(20),
    secret: true,
    group: "Discord",
    description: "Bot token. Needed for the Gateway (ordinary messages) and for replies.",
    expect: "the bot token",
    fix: "Reset and copy it under Bot > Token in the Developer Portal.",
  },
  DISCORD_GATEWAY: {
    schema: onOff,
    default: "on",
    group: "Discord",
    description: "Connect to the Gateway for guild and DM messages when DISCORD_BOT_TOKEN is set.",
    expect: "on or off",
    fix: "Use on, or off to take only slash commands over HTTP.",
  },
  DISCORD_API_URL: {
    schema: apiBase,
    default: "https://discord.com/api",
    group: "Discord",
    description: "Discord REST base URL (change only for a test double).",
    expect: "an http(s):// URL",
    fix: "Use https://discord.com/api.",
  },
  TELEGRAM_BOT_TOKEN: {
    schema: z.string().regex(/^\d+:[A-Za-z0-9_-]{20,}$/),
    secret: true,
    group: "Telegram",
    description: "Bot token from @BotFather. Needed for long polling and for replies.",
    expect: "a token like 123456:ABC-DEF…",
    fix: "Copy it from @BotFather (/token).",
  },
  TELEGRAM_WEBHOOK_SECRET: {
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/),
    secret: true,
    group: "Telegram",
    description: "The secret_token given to setWebhook. Enables POST /webhooks/telegram.",
    expect: "1-256 characters of A-Z, a-z, 0-9, _ and -",
    fix: "Generate one, e.g. `openssl rand -hex 32`, and pass the same value to setWebhook.",
  },
  TELEGRAM_MODE: {
    schema: z.enum(["webhook", "polling"]),
    default: "webhook",
    group: "Telegram",
    description: "webhook: Telegram POSTs to us. polling: we call getUpdates (no public URL needed).",
    expect: "webhook or polling",
    fix: "Use polling when this server has no public HTTPS URL.",
  },
  TELEGRAM_BOT_USERNAME: {
    schema: z
      .string()
      .regex(/^@?[A-Za-z0-9_]{5,32}$/)
      .transform((u) => u.replace(/^@/, "")),
    group: "Telegram",
    description: "The bot's @username, to recognise mentions in groups.",
    expect: "a Telegram username",
    fix: "Use the bot's username from @BotFather, without or with the @.",
  },
  TELEGRAM_API_ROOT: {
    schema: apiBase,
    default: "https://api.telegram.org",
    group: "Telegram",
    description: "Bot API root (change only for a local Bot API server or a test double).",
    expect: "an http(s):// URL",
    fix: "Use https://api.telegram.org.",
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
