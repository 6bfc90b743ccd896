import { z } from "zod";
import type { LogLevel } from "../shared/logger.ts";

export type AgentKind = "switchboard" | "project";

const optionalString = z.preprocess((v) => (v === "" ? undefined : v), z.string().optional());
const durationMs = (fallback: number) =>
  z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).default(fallback));

/** The daemon's environment, parsed once in `agentDaemonMain`. */
export const AgentEnv = z.object({
  ANTHROPIC_API_KEY: optionalString,
  CLAUDE_CODE_OAUTH_TOKEN: optionalString,
  /** Claude Code to run instead of the SDK's bundled binary (tests point it at the fake CLI). */
  CLAUDE_CODE_EXECUTABLE: optionalString,
  /** How long a permission request or a switchboard tool call waits for the chat. */
  CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: durationMs(600_000),
  /** A conversation's live Claude Code process is closed after this long without a turn. */
  CLOUDCLAUDE_AGENT_IDLE_MS: durationMs(600_000),
  LOG_LEVEL: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  PATH: optionalString,
  HOME: optionalString,
});
export type AgentEnv = z.infer<typeof AgentEnv>;

export interface AgentSettings {
  readonly permissionTimeoutMs: number;
  readonly idleMs: number;
  readonly claudeExecutable: string | undefined;
  readonly logLevel: LogLevel;
  /** The environment Claude Code runs with (the SDK's `env` replaces, not extends, the process env). */
  readonly childEnv: Readonly<Record<string, string>>;
  /**
   * A Vertex service account key (JSON) that came as CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON: the daemon writes
   * it to `googleCredentialsFile` (mode 0600) before Claude Code starts, which finds it through
   * GOOGLE_APPLICATION_CREDENTIALS, as Google's libraries expect a file rather than a value.
   */
  readonly googleCredentials?: { readonly file: string; readonly json: string };
}

/** Only the daemon reads these; Claude Code and the commands it runs never see them. */
const DAEMON_ONLY = /^(CLOUDCLAUDE_|LOG_LEVEL$|CLAUDE_CODE_EXECUTABLE$|NODE_OPTIONS$)/;

/** What a switchboard's Claude Code needs: it runs no commands, so nothing else of the environment. */
const SWITCHBOARD_PASS = new Set([
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TZ",
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "ANTHROPIC_BASE_URL",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "ANTHROPIC_MODEL",
  // A person's Bedrock or Vertex credential (see src/identity/credentials.ts).
  "CLAUDE_CODE_USE_BEDROCK",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_BEARER_TOKEN_BEDROCK",
  "CLAUDE_CODE_USE_VERTEX",
  "ANTHROPIC_VERTEX_PROJECT_ID",
  "CLOUD_ML_REGION",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
]);

/**
 * A project VM is the user's own machine: its Claude Code (and the commands it runs) get the container's
 * environment minus the daemon's settings. A switchboard gets only what Claude Code itself needs.
 */
export function agentSettings(
  env: NodeJS.ProcessEnv,
  kind: AgentKind,
  claudeConfigDir: string,
  googleCredentialsFile?: string,
): AgentSettings {
  const parsed = AgentEnv.parse(env);
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value === "" || DAEMON_ONLY.test(key)) continue;
    if (kind === "switchboard" && !SWITCHBOARD_PASS.has(key)) continue;
    childEnv[key] = value;
  }
  childEnv.CLAUDE_CONFIG_DIR = claudeConfigDir;
  childEnv.DISABLE_AUTOUPDATER = "1";
  childEnv.CLAUDE_AGENT_SDK_CLIENT_APP = "cloudclaude";
  // Auto memory loads regardless of settingSources; a switchboard must only know what its tools tell it.
  if (kind === "switchboard") childEnv.CLAUDE_CODE_DISABLE_AUTO_MEMORY = "1";
  const googleJson = env.CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON;
  const googleCredentials =
    googleJson && googleCredentialsFile ? { file: googleCredentialsFile, json: googleJson } : undefined;
  if (googleCredentials) childEnv.GOOGLE_APPLICATION_CREDENTIALS = googleCredentials.file;
  return {
    ...(googleCredentials && { googleCredentials }),
    permissionTimeoutMs: parsed.CLOUDCLAUDE_PERMISSION_TIMEOUT_MS,
    idleMs: parsed.CLOUDCLAUDE_AGENT_IDLE_MS,
    claudeExecutable: parsed.CLAUDE_CODE_EXECUTABLE,
    logLevel: parsed.LOG_LEVEL,
    childEnv,
  };
}
