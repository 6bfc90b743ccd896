import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";
import { redactSecrets } from "../secrets/redact.ts";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type Logger = PinoLogger;

/**
 * Field paths whose values never reach a log line. Components must still avoid logging secrets; this list
 * is the net under them. The Secrets component adds redaction of known secret *values* on top.
 */
export const REDACTED_PATHS = [
  "password",
  "token",
  "secret",
  "apiKey",
  "authorization",
  "*.password",
  "*.token",
  "*.secret",
  "*.apiKey",
  "*.authorization",
  "*.accessToken",
  "*.channelSecret",
  "*.signingSecret",
  "*.databaseUrl",
  "headers.authorization",
  "headers.cookie",
  'headers["x-line-signature"]',
  'headers["x-slack-signature"]',
  'headers["x-telegram-bot-api-secret-token"]',
  "req.headers.authorization",
  "req.headers.cookie",
  "env.ANTHROPIC_API_KEY",
  "env.CLAUDE_CODE_OAUTH_TOKEN",
];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly name?: string;
  /** Defaults to stdout. Tests pass a stream to read the lines back. */
  readonly destination?: DestinationStream;
}

/**
 * JSON lines to stdout, one object per event, with `REDACTED_PATHS` censored and every known secret value
 * (and credential-shaped string) replaced in the finished line, wherever it hides (messages, errors).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name ?? "cloudclaude",
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: redactSecrets },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
