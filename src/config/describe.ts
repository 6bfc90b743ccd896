import type { LoadedConfig } from "./load.ts";
import { VARIABLE_NAMES, VARIABLES } from "./variables.ts";

/** Hides a secret value while keeping enough shape to recognise it. URLs keep all but their password. */
export function maskSecret(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) {
      url.password = "****";
      return url.toString();
    }
    if (url.protocol.startsWith("postgres")) return url.toString();
  } catch {
    // not a URL: fall through
  }
  return value.length <= 8 ? "****" : `****${value.slice(-4)}`;
}

/** The effective configuration as text lines, secrets masked, for `cloudclaude config check`. */
export function describeConfig(loaded: LoadedConfig): string[] {
  const lines: string[] = [];
  lines.push(`config file: ${loaded.file ?? "(none)"}`);
  const width = Math.max(...VARIABLE_NAMES.map((n) => n.length));
  for (const name of VARIABLE_NAMES) {
    const spec = VARIABLES[name];
    const { raw, source } = loaded.sources[name];
    const isSecret = "secret" in spec && spec.secret;
    const shown = raw === undefined ? "(unset)" : isSecret ? maskSecret(raw) : raw;
    lines.push(`${name.padEnd(width)}  ${shown}  [${source}]`);
  }
  const { config } = loaded;
  lines.push("");
  lines.push(`data dir:  ${config.dataDir}`);
  lines.push(
    `database:  ${config.database.kind === "sqlite" ? `SQLite at ${config.database.path}` : `PostgreSQL at ${maskSecret(config.database.url)}`}`,
  );
  lines.push(`listening: http://${config.http.host}:${config.http.port}`);
  return lines;
}
