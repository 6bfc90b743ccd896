import type { Command } from "commander";
import type { Config } from "../config/index.ts";
import { KeyFile, keysFromEnvironment, LocalKeyProvider, SecretBox } from "../secrets/index.ts";
import { loadSecrets } from "../secrets/server.ts";
import { openStore, type Store } from "../store/index.ts";

/**
 * `cloudclaude keys …`: the master keys that encrypt people's credentials. Rotation re-wraps each
 * credential's data key under a new master key (the credentials themselves are not re-encrypted), then
 * drops the old key from the key file. Run it with the server stopped: a running server keeps the keys it
 * started with.
 */
export function registerKeyCommands(program: Command, load: () => Config): void {
  const keys = program.command("keys").description("Master keys encrypting the stored credentials.");

  keys
    .command("status")
    .description("Where the master key comes from, its id, and how many credentials each key protects.")
    .action(() =>
      withSecretStore(load(), async (store, box, origin) => {
        console.log(`master key: ${origin}, current ${box.currentKeyId}`);
        const usage = await store.credentials.keyUsage();
        if (Object.keys(usage).length === 0) console.log("no credentials stored yet");
        for (const [id, n] of Object.entries(usage)) {
          console.log(
            `${id}: ${n} credential(s)${box.keyIds.includes(id) ? "" : "  (key missing: unreadable)"}`,
          );
        }
      }),
    );

  keys
    .command("rotate")
    .description(
      "Re-encrypt every credential's data key under a new master key. Key file: a new key is made and the old one removed. CLOUDCLAUDE_MASTER_KEY: put the new key first (new,old), run this, then drop the old one.",
    )
    .action(async () => {
      const config = load();
      if (config.secrets.masterKeys === undefined) {
        const file = new KeyFile(config.secrets.keyFile);
        file.loadOrCreate();
        const fresh = file.addKey();
        const box = new SecretBox(new LocalKeyProvider(file.read()));
        await withStoreBox(config, box, async (store) => {
          const changed = await store.credentials.rewrapAll();
          const usage = await store.credentials.keyUsage();
          const left = Object.keys(usage).filter((id) => id !== fresh.id);
          if (left.length > 0)
            throw new Error(
              `credentials under ${left.join(", ")} could not be re-encrypted; the old keys are kept`,
            );
          file.retire([fresh.id]);
          console.log(
            `rotated: new master key ${fresh.id}, ${changed} credential(s) re-encrypted, old keys removed`,
          );
        });
        return;
      }
      const ring = keysFromEnvironment(config.secrets.masterKeys);
      const box = new SecretBox(new LocalKeyProvider(ring));
      await withStoreBox(config, box, async (store) => {
        const changed = await store.credentials.rewrapAll();
        console.log(`${changed} credential(s) re-encrypted under ${box.currentKeyId}`);
        if (ring.length > 1)
          console.log("now remove the old key(s) from CLOUDCLAUDE_MASTER_KEY, keeping only the first");
        else console.log("to rotate, set CLOUDCLAUDE_MASTER_KEY=<new key>,<old key> and run this again");
      });
    });

  keys
    .command("forget-unreadable")
    .description(
      "Delete credentials sealed under master keys this server does not have (a key lost for good).",
    )
    .action(() =>
      withSecretStore(load(), async (store, box) => {
        const usage = await store.credentials.keyUsage();
        const lost = Object.keys(usage).filter((id) => !box.keyIds.includes(id));
        const removed = await store.credentials.removeUnderKeys(lost);
        console.log(
          removed === 0 ? "every credential is readable" : `deleted ${removed} unreadable credential(s)`,
        );
      }),
    );
}

async function withSecretStore(
  config: Config,
  run: (store: Store, box: SecretBox, origin: "environment" | "file") => Promise<void>,
): Promise<void> {
  const { box, origin } = loadSecrets(config);
  await withStoreBox(config, box, (store) => run(store, box, origin));
}

async function withStoreBox(config: Config, box: SecretBox, run: (store: Store) => Promise<void>) {
  const { store } = await openStore(config.database, { secrets: box });
  try {
    await run(store);
  } finally {
    await store.close();
  }
}
