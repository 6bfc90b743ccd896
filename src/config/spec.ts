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

export const port = z.coerce.number().int().min(1).max(65_535);
export const positiveMs = z.coerce.number().int().min(0).max(3_600_000);
export const onOff = z.enum(["on", "off"]);
export const apiBase = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));
