/**
 * Command line of the fake Claude Code CLI. The SDK passes `--flag=value` for most options but `--mcp-config
 * <json>` (and `extraArgs`) as two arguments, so both forms are accepted; unknown flags are ignored.
 */
export interface FakeArgs {
  readonly resume: string | undefined;
  readonly sessionId: string | undefined;
  readonly forkSession: boolean;
  readonly continueSession: boolean;
  readonly permissionMode: string;
  /** Built-in tools available (`--tools`); "default" = all of them, `[]` = none. */
  readonly tools: readonly string[] | "default";
  readonly allowedTools: readonly string[];
  readonly disallowedTools: readonly string[];
  readonly permissionPromptTool: string | undefined;
  readonly partialMessages: boolean;
  readonly model: string;
  /** Names of servers from `--mcp-config` (older SDKs list in-process servers there with type "sdk"). */
  readonly mcpConfigServers: readonly string[];
}

const VALUE_FLAGS = new Set([
  "output-format",
  "input-format",
  "resume",
  "session-id",
  "permission-mode",
  "allowedTools",
  "allowed-tools",
  "disallowedTools",
  "disallowed-tools",
  "tools",
  "permission-prompt-tool",
  "mcp-config",
  "setting-sources",
  "model",
  "fallback-model",
  "max-turns",
  "max-budget-usd",
  "add-dir",
  "settings",
  "resume-session-at",
  "agent",
  "agents",
  "json-schema",
  "effort",
  "thinking",
  "max-thinking-tokens",
  "system-prompt",
  "append-system-prompt",
]);

export function parseFakeArgs(argv: readonly string[]): FakeArgs {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) {
      values.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(name) && next !== undefined && !next.startsWith("--")) {
      values.set(name, next);
      i++;
    } else {
      flags.add(name);
    }
  }
  const list = (name: string, alt: string) =>
    (values.get(name) ?? values.get(alt) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  return {
    resume: values.get("resume"),
    sessionId: values.get("session-id"),
    forkSession: flags.has("fork-session"),
    continueSession: flags.has("continue"),
    permissionMode: values.get("permission-mode") ?? "default",
    tools: !values.has("tools") || values.get("tools") === "default" ? "default" : list("tools", "tools"),
    allowedTools: list("allowedTools", "allowed-tools"),
    disallowedTools: list("disallowedTools", "disallowed-tools"),
    permissionPromptTool: values.get("permission-prompt-tool"),
    partialMessages: flags.has("include-partial-messages"),
    model: values.get("model") ?? "claude-fake-1",
    mcpConfigServers: sdkServersIn(values.get("mcp-config")),
  };
}

function sdkServersIn(json: string | undefined): string[] {
  if (json === undefined) return [];
  try {
    const parsed = JSON.parse(json) as { mcpServers?: Record<string, { type?: string }> };
    return Object.entries(parsed.mcpServers ?? {})
      .filter(([, server]) => server.type === "sdk")
      .map(([name]) => name);
  } catch {
    return [];
  }
}

/** Claude Code's allow-rule matching, reduced to what the fake needs: `Tool`, `Tool(...)`, `mcp__server`. */
export function ruleMatches(rules: readonly string[], tool: string): boolean {
  return rules.some((rule) => {
    if (rule === tool || rule.startsWith(`${tool}(`)) return true;
    if (!tool.startsWith("mcp__")) return false;
    const server = tool.split("__").slice(0, 2).join("__");
    return rule === server || rule === `${server}__*`;
  });
}
