import type { Config } from "../config/index.ts";
import type { Store } from "../store/index.ts";
import { SecretBox } from "./envelope.ts";
import { loadKeyProvider } from "./keys.ts";
import { knownSecrets } from "./redact.ts";

/**
 * The secrets side of starting a server or a CLI command: the master keys (environment or key file) as a
 * `SecretBox`, and the configuration's own secrets registered for redaction, so no log line and no chat
 * message shows them. Only `serve` passes `create: true` (the key file is made on first start); elsewhere a
 * missing key file throws `MissingKeyFileError`.
 */
export function loadSecrets(
  config: Config,
  options: { create?: boolean } = {},
): {
  box: SecretBox;
  origin: "environment" | "file";
  created: boolean;
} {
  for (const value of configSecrets(config)) knownSecrets.add(value);
  const { provider, origin, created } = loadKeyProvider(
    { environmentKeys: config.secrets.masterKeys, keyFile: config.secrets.keyFile },
    options,
  );
  return { box: new SecretBox(provider), origin, created };
}

/** Every secret the configuration holds (credentials, platform tokens, the database password, master keys). */
export function configSecrets(config: Config): string[] {
  const { line, slack, discord, telegram } = config.platforms;
  const values = [
    ...Object.values(config.agents.credentialEnv),
    line.channelSecret,
    line.accessToken,
    slack.signingSecret,
    slack.botToken,
    slack.appToken,
    discord.botToken,
    telegram.botToken,
    telegram.webhookSecret,
    ...(config.secrets.masterKeys?.split(",").map((k) => k.trim()) ?? []),
  ];
  if (config.database.kind === "postgres") {
    try {
      values.push(decodeURIComponent(new URL(config.database.url).password));
    } catch {
      // not a URL we can read a password from
    }
  }
  return values.filter((v): v is string => typeof v === "string" && v !== "");
}

/**
 * Refuses to run when the store holds credentials sealed under master keys this server lacks: a replica
 * with a key file of its own, or a lost key. Better to stop than to seal new credentials nobody else can read.
 */
export async function assertKeysPresent(store: Store, keyIds: readonly string[]): Promise<void> {
  const usage = await store.credentials.keyUsage();
  const missing = Object.keys(usage).filter((id) => !keyIds.includes(id));
  if (missing.length === 0) return;
  throw new Error(
    `the database holds ${missing.map((id) => `${usage[id]} credential(s) under master key ${id}`).join(", ")}, ` +
      "which this server does not have. Set CLOUDCLAUDE_MASTER_KEY (or CLOUDCLAUDE_MASTER_KEY_FILE) to the key " +
      "the other servers use; if that key is lost for good, run `cloudclaude keys forget-unreadable --key " +
      "<id> --yes` (those people will be asked to /connect again).",
  );
}
