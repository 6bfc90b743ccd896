import type { DatabaseHandle } from "../store/index.ts";
import type { Inbox, InboxOptions } from "./port.ts";
import { PostgresInbox } from "./postgres-inbox.ts";
import { SqliteInbox } from "./sqlite-inbox.ts";

export * from "./port.ts";

/** The inbox implementation for the store's dialect, over the same connection. */
export function createInbox(handle: DatabaseHandle, options: InboxOptions): Inbox {
  return handle.dialect === "postgres"
    ? new PostgresInbox(handle.db, options)
    : new SqliteInbox(handle, options);
}
