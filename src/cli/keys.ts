import type { Command } from "commander";
import type { Config } from "../config/index.ts";
import {
  KeyFile,
  keysFromEnvironment,
  LocalKeyProvider,
  MissingKeyFileError,
  SecretBox,
} from "../secrets/index.ts";
import { KeyHolders } from "../secrets/presence.ts";
import { loadSecrets } from "../secrets/server.ts";
import { type OpenedStore, openStore } from "../store/index.ts";

/**
 * `cloudclaude keys …`: the master keys that encrypt people's credentials. Rotation re-wraps each
 * credential's data key under a new master key (the credentials themselves are not re-encrypted), then
 * drops the old key from the key file. It refuses to run while a server uses the database (see
 * `KeyHolders`). No command here ever creates a key: only `serve` makes the key file, on first start.
 */
export function registerKeyCommands(program: Command, load: () => Config): void {
  const keys = program.command("keys").description("Master keys encrypting the stored credentials.");

  keys
    .command("status")
    .description("Where the master key comes from, its id, and how many credentials each key protects.")
    .action(async () => {
      const config = load();
      const box = openBox(config);
      await withOpened(config, undefined, async ({ store }) => {
        console.log(
          box
            ? `master key: ${box.origin}, current ${box.box.currentKeyId}`
            : `master key: none yet (no ${config.secrets.keyFile}; \`serve\` creates it on first start)`,
        );
        const usage = await store.credentials.keyUsage();
        if (Object.keys(usage).length === 0) console.log("no credentials stored yet");
        for (const [id, n] of Object.entries(usage)) {
          const readable = box?.box.keyIds.includes(id) ?? false;
          console.log(`${id}: ${n} credential(s)${readable ? "" : "  (key missing: unreadable)"}`);
        }
      });
    });

  keys
    .command("rotate")
    .description(
      "Re-encrypt every credential's data key under a new master key, with the server stopped. Key file: a new key is made and the old one removed. CLOUDCLAUDE_MASTER_KEY: put the new key first (new,old), run this, then drop the old one.",
    )
    .action(async () => {
      const config = load();
      if (config.secrets.masterKeys === undefined) {
        const file = new KeyFile(config.secrets.keyFile);
        if (!file.exists()) throw new MissingKeyFileError(config.secrets.keyFile);
        const current = new SecretBox(new LocalKeyProvider(file.read()));
        await withOpened(config, current, ({ store, handle }) =>
          new KeyHolders(handle.db).rotate(async () => {
            const fresh = file.addKey();
            const box = new SecretBox(new LocalKeyProvider(file.read()));
            const { store: sealing } = await openStore(config.database, { secrets: box });
            try {
              const changed = await sealing.credentials.rewrapAll();
              const left = Object.keys(await store.credentials.keyUsage()).filter((id) => id !== fresh.id);
              if (left.length > 0)
                throw new Error(
                  `credentials under ${left.join(", ")} could not be re-encrypted; the old keys are kept`,
                );
              file.retire([fresh.id]);
              console.log(
                `rotated: new master key ${fresh.id}, ${changed} credential(s) re-encrypted, old keys removed`,
              );
            } finally {
              await sealing.close();
            }
          }),
        );
        return;
      }
      const ring = keysFromEnvironment(config.secrets.masterKeys);
      const box = new SecretBox(new LocalKeyProvider(ring));
      await withOpened(config, box, ({ store, handle }) =>
        new KeyHolders(handle.db).rotate(async () => {
          const changed = await store.credentials.rewrapAll();
          console.log(`${changed} credential(s) re-encrypted under ${box.currentKeyId}`);
          if (ring.length > 1)
            console.log("now remove the old key(s) from CLOUDCLAUDE_MASTER_KEY, keeping only the first");
          else console.log("to rotate, set CLOUDCLAUDE_MASTER_KEY=<new key>,<old key> and run this again");
        }),
      );
    });

  keys
    .command("forget-unreadable")
    .description(
      "Delete the credentials sealed under a master key this server does not have (a key lost for good). Without --key and --yes, lists the unreadable keys and their counts.",
    )
    .option("--key <id>", "the lost master key's id (from `keys status`)")
    .option("--yes", "confirm: those people will have to /connect again")
    .action(async (options: { key?: string; yes?: boolean }) => {
      const config = load();
      const box = openBox(config);
      await withOpened(config, undefined, async ({ store }) => {
        const usage = await store.credentials.keyUsage();
        const lost = Object.keys(usage).filter((id) => !(box?.box.keyIds.includes(id) ?? false));
        if (lost.length === 0) {
          console.log("every credential is readable");
          return;
        }
        if (options.key === undefined || !options.yes) {
          for (const id of lost) console.log(`${id}: ${usage[id]} unreadable credential(s)`);
          throw new Error(
            "nothing deleted: name the lost key and confirm, e.g. `cloudclaude keys forget-unreadable " +
              `--key ${lost[0]} --yes` +
              "`. Restore the key instead if you still can.",
          );
        }
        if (!lost.includes(options.key))
          throw new Error(
            `${options.key} is not a lost key: ${usage[options.key] === undefined ? "no credential uses it" : "this server has it"}`,
          );
        const removed = await store.credentials.removeUnderKeys([options.key]);
        console.log(`deleted ${removed} unreadable credential(s) under ${options.key}`);
      });
    });
}

/** The master keys when there are any (environment or an existing key file); never creates one. */
function openBox(config: Config): { box: SecretBox; origin: "environment" | "file" } | undefined {
  try {
    return loadSecrets(config);
  } catch (error) {
    if (error instanceof MissingKeyFileError) return undefined;
    throw error;
  }
}

async function withOpened(
  config: Config,
  box: SecretBox | undefined,
  run: (opened: OpenedStore) => Promise<void>,
): Promise<void> {
  const opened = await openStore(config.database, box ? { secrets: box } : {});
  try {
    await run(opened);
  } finally {
    await opened.store.close();
  }
}
