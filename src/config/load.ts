import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import type { LogLevel } from "../shared/logger.ts";
import { type ParsedVariables, VARIABLE_NAMES, VARIABLES, type VariableName } from "./variables.ts";

/** The typed configuration every component receives from the composition root. */
export interface Config {
  /** Absolute path. */
  readonly dataDir: string;
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl: string | undefined;
  };
  readonly database: DatabaseConfig;
  readonly log: { readonly level: LogLevel };
  readonly shutdownTimeoutMs: number;
  readonly inbox: { readonly maxAttempts: number; readonly retentionMs: number };
  readonly agents: AgentsConfig;
  /** Where the master keys that encrypt credentials come from (src/secrets). */
  readonly secrets: { readonly masterKeys: string | undefined; readonly keyFile: string };
  readonly docker: DockerConfig;
  readonly build: BuildConfig;
  readonly platforms: PlatformsConfig;
  readonly delivery: DeliveryConfig;
}

/** Pacing of replies (see src/delivery/governor.ts). */
export interface DeliveryConfig {
  readonly editIntervalMs: number;
  readonly groupEditIntervalMs: number;
  readonly botPerSecond: number;
  /** A reply longer than this many chunks is sent as a short head plus a file where bots can upload (0: never). */
  readonly attachAfterChunks: number;
}

export interface AgentsConfig {
  readonly runtime: "process" | "docker";
  /** `platform:userId` of the people allowed the server's own credential. */
  readonly admins: readonly string[];
  /** Environment given to admins' agents: the server's Claude credential. */
  readonly credentialEnv: Readonly<Record<string, string>>;
  readonly claudeExecutable: string | undefined;
  readonly turnTimeoutMs: number;
  readonly permissionTimeoutMs: number;
  readonly idleMs: number;
  /** Serve the webchat (CLOUDCLAUDE_WEBCHAT; `auto`: only when the server is local, see `webchatAdmin`). */
  readonly webchat: boolean;
  /**
   * The webchat's person is the local operator, an admin: only when nobody else can reach the listener
   * (no CLOUDCLAUDE_PUBLIC_URL and a loopback CLOUDCLAUDE_HOST). Otherwise `webchat:local` is an ordinary
   * identity that must be admitted like any other (docs/identity.md).
   */
  readonly webchatAdmin: boolean;
  readonly language: "en" | "zh-TW";
  /** Who may use the server (docs/identity.md). */
  readonly access: "allowlist" | "invite" | "open";
  /** Base of the links people are sent (`/connect/<id>`): CLOUDCLAUDE_PUBLIC_URL, else this listener. */
  readonly publicUrl: string;
  /** Largest file a person may send the agent, per file (CLOUDCLAUDE_ATTACHMENT_MAX_BYTES). */
  readonly attachmentMaxBytes?: number;
  /** How long one such download may take (CLOUDCLAUDE_ATTACHMENT_TIMEOUT_MS). */
  readonly attachmentTimeoutMs?: number;
}

/** The VM Manager's pool of Docker hosts and what its containers get (CLOUDCLAUDE_RUNTIME=docker). */
export interface DockerConfig {
  /** `[name=]url` entries, parsed by the VM Manager. */
  readonly hosts: string;
  readonly tlsDir: string | undefined;
  readonly image: string;
  readonly network: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly pids: number;
  readonly capacityPerHost: number;
  readonly switchboardIdleMs: number;
  readonly projectIdleMs: number;
  readonly instance: string;
}

/** The Build Service: projects' environment images (docs/build-service.md; CLOUDCLAUDE_RUNTIME=docker). */
export interface BuildConfig {
  /** `host[:port]` images are pushed to; none: local tags on the build host (a single-host pool). */
  readonly registry: string | undefined;
  /** Login for the registry (both or neither). */
  readonly registryUser: string | undefined;
  readonly registryPassword: string | undefined;
  /** Name of the pool host that builds; none: the first of CLOUDCLAUDE_DOCKER_HOSTS. */
  readonly host: string | undefined;
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Network of the RUN steps; none given: the engine's default. */
  readonly network: string | undefined;
}

/**
 * A platform's webhook is enabled by its verification secret being set (LINE channel secret, Slack signing
 * secret, Discord public key, Telegram webhook secret); long-lived transports by their tokens.
 */
export interface PlatformsConfig {
  readonly line: {
    readonly channelSecret: string | undefined;
    readonly botUserId: string | undefined;
    readonly accessToken: string | undefined;
    readonly apiBaseUrl: string;
    /** Where message content (images, files people send) is fetched: LINE_DATA_API_BASE_URL. */
    readonly dataApiBaseUrl?: string;
  };
  readonly slack: {
    readonly signingSecret: string | undefined;
    readonly botToken: string | undefined;
    readonly appToken: string | undefined;
    readonly apiUrl: string;
  };
  readonly discord: {
    readonly publicKey: string | undefined;
    readonly applicationId: string | undefined;
    readonly botToken: string | undefined;
    readonly gateway: boolean;
    readonly apiUrl: string;
  };
  readonly telegram: {
    readonly webhookSecret: string | undefined;
    readonly botToken: string | undefined;
    readonly mode: "webhook" | "polling";
    readonly botUsername: string | undefined;
    readonly apiRoot: string;
  };
}

export type DatabaseConfig =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: string };

/** Where a variable's effective value came from, as `config check` reports it. */
export type ValueSource = "environment" | "file" | "default" | "unset";

export interface LoadedConfig {
  readonly config: Config;
  /** Each variable's raw effective value and its source, for `config check`. */
  readonly sources: Record<VariableName, { raw: string | undefined; source: ValueSource }>;
  /** The config file that was read, if any. */
  readonly file: string | undefined;
}

export interface LoadConfigOptions {
  /** Usually `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * A dotenv-format file. When given explicitly it must exist. When absent, `CLOUDCLAUDE_CONFIG_FILE` names
   * it, else `./.env` is read if present. Values from the environment win over the file.
   */
  readonly file?: string | undefined;
}

/** A configuration problem; `message` holds one line per bad variable, each naming it and the fix. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const { env, cwd } = options;
  const file = resolveConfigFile(options);
  const fromFile = file ? readConfigFile(file) : {};

  const problems: string[] = [];
  const parsed: Partial<Record<VariableName, unknown>> = {};
  const sources = {} as LoadedConfig["sources"];

  for (const name of VARIABLE_NAMES) {
    const spec = VARIABLES[name];
    const fromEnv = nonEmpty(env[name]);
    const fileValue = nonEmpty(fromFile[name]);
    const def: string | undefined = "default" in spec ? spec.default : undefined;
    const raw = fromEnv ?? fileValue ?? def;
    const source: ValueSource =
      fromEnv !== undefined
        ? "environment"
        : fileValue !== undefined
          ? "file"
          : def !== undefined
            ? "default"
            : "unset";
    sources[name] = { raw, source };
    if (raw === undefined) continue;

    const result = spec.schema.safeParse(raw.trim());
    if (result.success) {
      parsed[name] = result.data;
    } else {
      const shown = "secret" in spec && spec.secret ? "(hidden)" : JSON.stringify(raw);
      const where = source === "file" ? ` (from ${file})` : "";
      problems.push(`${name}=${shown}${where} is invalid: expected ${spec.expect}. ${spec.fix}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const v = parsed as ParsedVariables;
  if (v.TELEGRAM_MODE === "polling" && !v.TELEGRAM_BOT_TOKEN) {
    problems.push(
      "TELEGRAM_MODE=polling needs TELEGRAM_BOT_TOKEN. Set the token from @BotFather, or use TELEGRAM_MODE=webhook.",
    );
  }
  if ((v.CLOUDCLAUDE_REGISTRY_USER === undefined) !== (v.CLOUDCLAUDE_REGISTRY_PASSWORD === undefined)) {
    problems.push(
      "CLOUDCLAUDE_REGISTRY_USER and CLOUDCLAUDE_REGISTRY_PASSWORD go together. Set both (the registry login), or neither.",
    );
  }
  if (v.CLOUDCLAUDE_REGISTRY_USER !== undefined && v.CLOUDCLAUDE_REGISTRY === undefined) {
    problems.push(
      "CLOUDCLAUDE_REGISTRY_USER is set but CLOUDCLAUDE_REGISTRY is not. Set the registry's address, or unset the login.",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(cwd, v.CLOUDCLAUDE_DATA_DIR);
  const config: Config = {
    dataDir,
    http: { host: v.CLOUDCLAUDE_HOST, port: v.CLOUDCLAUDE_PORT, publicUrl: v.CLOUDCLAUDE_PUBLIC_URL },
    database: v.DATABASE_URL
      ? { kind: "postgres", url: v.DATABASE_URL }
      : { kind: "sqlite", path: path.join(dataDir, "cloudclaude.db") },
    log: { level: v.LOG_LEVEL },
    shutdownTimeoutMs: v.CLOUDCLAUDE_SHUTDOWN_TIMEOUT_MS,
    inbox: { maxAttempts: v.INBOX_MAX_ATTEMPTS, retentionMs: v.INBOX_RETENTION_HOURS * 3_600_000 },
    agents: {
      runtime: v.CLOUDCLAUDE_RUNTIME,
      admins: v.CLOUDCLAUDE_ADMINS ?? [],
      credentialEnv: {
        ...(v.ANTHROPIC_API_KEY && { ANTHROPIC_API_KEY: v.ANTHROPIC_API_KEY }),
        ...(v.CLAUDE_CODE_OAUTH_TOKEN && { CLAUDE_CODE_OAUTH_TOKEN: v.CLAUDE_CODE_OAUTH_TOKEN }),
      },
      claudeExecutable: v.CLAUDE_CODE_EXECUTABLE,
      turnTimeoutMs: v.CLOUDCLAUDE_TURN_TIMEOUT_MS,
      permissionTimeoutMs: v.CLOUDCLAUDE_PERMISSION_TIMEOUT_MS,
      idleMs: v.CLOUDCLAUDE_AGENT_IDLE_MS,
      webchat: v.CLOUDCLAUDE_WEBCHAT === "on" || (v.CLOUDCLAUDE_WEBCHAT === "auto" && localOnly(v)),
      webchatAdmin: localOnly(v),
      language: v.CLOUDCLAUDE_LANGUAGE,
      access: v.CLOUDCLAUDE_ACCESS,
      publicUrl: v.CLOUDCLAUDE_PUBLIC_URL ?? `http://${v.CLOUDCLAUDE_HOST}:${v.CLOUDCLAUDE_PORT}`,
      attachmentMaxBytes: v.CLOUDCLAUDE_ATTACHMENT_MAX_BYTES,
      attachmentTimeoutMs: v.CLOUDCLAUDE_ATTACHMENT_TIMEOUT_MS,
    },
    secrets: {
      masterKeys: v.CLOUDCLAUDE_MASTER_KEY,
      keyFile: path.resolve(
        cwd,
        v.CLOUDCLAUDE_MASTER_KEY_FILE ?? path.join(dataDir, "keys", "master-key.json"),
      ),
    },
    docker: {
      hosts: v.CLOUDCLAUDE_DOCKER_HOSTS,
      tlsDir: v.CLOUDCLAUDE_DOCKER_TLS_DIR,
      image: v.CLOUDCLAUDE_AGENT_IMAGE,
      network: v.CLOUDCLAUDE_AGENT_NETWORK,
      memoryMb: v.CLOUDCLAUDE_AGENT_MEMORY_MB,
      cpus: v.CLOUDCLAUDE_AGENT_CPUS,
      pids: v.CLOUDCLAUDE_AGENT_PIDS,
      capacityPerHost: v.CLOUDCLAUDE_HOST_CAPACITY,
      switchboardIdleMs: v.CLOUDCLAUDE_SWITCHBOARD_IDLE_MS,
      projectIdleMs: v.CLOUDCLAUDE_VM_IDLE_MS,
      instance: v.CLOUDCLAUDE_INSTANCE,
    },
    build: {
      registry: v.CLOUDCLAUDE_REGISTRY,
      registryUser: v.CLOUDCLAUDE_REGISTRY_USER,
      registryPassword: v.CLOUDCLAUDE_REGISTRY_PASSWORD,
      host: v.CLOUDCLAUDE_BUILD_HOST,
      concurrency: v.CLOUDCLAUDE_BUILD_CONCURRENCY,
      timeoutMs: v.CLOUDCLAUDE_BUILD_TIMEOUT_MS,
      network: v.CLOUDCLAUDE_BUILD_NETWORK,
    },
    delivery: {
      editIntervalMs: v.DELIVERY_EDIT_INTERVAL_MS,
      groupEditIntervalMs: v.DELIVERY_GROUP_EDIT_INTERVAL_MS,
      botPerSecond: v.DELIVERY_BOT_RATE,
      attachAfterChunks: v.DELIVERY_ATTACH_AFTER_CHUNKS,
    },
    platforms: {
      line: {
        channelSecret: v.LINE_CHANNEL_SECRET,
        botUserId: v.LINE_BOT_USER_ID,
        accessToken: v.LINE_CHANNEL_ACCESS_TOKEN,
        apiBaseUrl: v.LINE_API_BASE_URL,
        dataApiBaseUrl: v.LINE_DATA_API_BASE_URL,
      },
      slack: {
        signingSecret: v.SLACK_SIGNING_SECRET,
        botToken: v.SLACK_BOT_TOKEN,
        appToken: v.SLACK_APP_TOKEN,
        apiUrl: v.SLACK_API_URL,
      },
      discord: {
        publicKey: v.DISCORD_PUBLIC_KEY?.toLowerCase(),
        applicationId: v.DISCORD_APPLICATION_ID,
        botToken: v.DISCORD_BOT_TOKEN,
        gateway: v.DISCORD_GATEWAY === "on",
        apiUrl: v.DISCORD_API_URL,
      },
      telegram: {
        webhookSecret: v.TELEGRAM_WEBHOOK_SECRET,
        botToken: v.TELEGRAM_BOT_TOKEN,
        mode: v.TELEGRAM_MODE,
        botUsername: v.TELEGRAM_BOT_USERNAME,
        apiRoot: v.TELEGRAM_API_ROOT,
      },
    },
  };
  return { config, sources, file };
}

function resolveConfigFile(options: LoadConfigOptions): string | undefined {
  const explicit = options.file ?? nonEmpty(options.env.CLOUDCLAUDE_CONFIG_FILE);
  if (explicit !== undefined) {
    const resolved = path.resolve(options.cwd, explicit);
    if (!existsSync(resolved)) {
      throw new ConfigError([
        `Config file ${resolved} does not exist. Fix the path given by --config or CLOUDCLAUDE_CONFIG_FILE.`,
      ]);
    }
    return resolved;
  }
  const implicit = path.join(options.cwd, ".env");
  return existsSync(implicit) ? implicit : undefined;
}

function readConfigFile(file: string): Record<string, string | undefined> {
  try {
    return parseEnv(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError([`Config file ${file} cannot be read: ${(error as Error).message}`]);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Whether only this machine can reach the server: no public URL, and a loopback listener. */
function localOnly(v: { CLOUDCLAUDE_PUBLIC_URL?: string | undefined; CLOUDCLAUDE_HOST: string }): boolean {
  if (v.CLOUDCLAUDE_PUBLIC_URL !== undefined) return false;
  const host = v.CLOUDCLAUDE_HOST.toLowerCase().replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
