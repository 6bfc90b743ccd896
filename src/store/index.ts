import type { DatabaseConfig } from "../config/index.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import { type DatabaseHandle, migrateToLatest, openDatabase } from "./database.ts";
import { KyselyStore } from "./kysely-store.ts";
import type { Store } from "./port.ts";

export { type DatabaseHandle, type Dialect, migrateToLatest, openDatabase } from "./database.ts";
export { KyselyStore } from "./kysely-store.ts";
export * from "./port.ts";

export interface OpenedStore {
  readonly store: Store;
  /** The connection, for components that keep their own tables (the inbox, the outbox). */
  readonly handle: DatabaseHandle;
  readonly appliedMigrations: string[];
}

/** Opens the configured database, applies pending migrations, and returns the Store over it. */
export async function openStore(
  config: DatabaseConfig,
  options: { now?: () => number; secrets?: SecretBox } = {},
): Promise<OpenedStore> {
  const handle = openDatabase(config);
  try {
    const { applied } = await migrateToLatest(handle);
    return { store: new KyselyStore(handle, options), handle, appliedMigrations: applied };
  } catch (error) {
    await handle.db.destroy().catch(() => {});
    throw error;
  }
}
