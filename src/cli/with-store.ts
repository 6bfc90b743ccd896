import type { Config } from "../config/index.ts";
import { type OpenedStore, openStore } from "../store/index.ts";

/** Opens the configured store (migrating it) for one CLI command, and closes it however the command ends. */
export async function withStore(config: Config, run: (opened: OpenedStore) => Promise<void>): Promise<void> {
  const opened = await openStore(config.database);
  try {
    await run(opened);
  } finally {
    await opened.store.close();
  }
}
