import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { Hono } from "hono";
import { loadConfig } from "../../src/config/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createInbox, type Inbox } from "../../src/inbox/index.ts";
import { createWebhookPlatforms, mountWebhookRoutes } from "../../src/ingress/index.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { createMetrics } from "../../src/shared/metrics.ts";
import { type DatabaseHandle, openStore, type Store } from "../../src/store/index.ts";

export interface IngressApp {
  readonly app: Hono;
  readonly inbox: Inbox;
  readonly store: Store;
  readonly handle: DatabaseHandle;
  /** Every item stored in the inbox, oldest first. */
  storedEventIds(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The real HTTP app with the webhook routes, over a real SQLite inbox in a temporary directory, configured
 * from `env` exactly as `serve` would be (only what the test needs is built).
 */
export async function createIngressApp(env: Record<string, string>): Promise<IngressApp> {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-ingress-"));
  const { config } = loadConfig({ env: { ...env, CLOUDCLAUDE_DATA_DIR: dir }, cwd: dir });
  const { store, handle } = await openStore(config.database);
  const inbox = createInbox(handle, config.inbox);
  const logger = createLogger({
    level: "warn",
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const metrics = createMetrics();
  const app = createHttpApp({ logger, metrics, readiness: [] });
  mountWebhookRoutes(app, { platforms: createWebhookPlatforms(config.platforms), inbox, logger, metrics });
  return {
    app,
    inbox,
    store,
    handle,
    async storedEventIds() {
      const rows = await handle.db.selectFrom("inbox_items").select("event_id").orderBy("id").execute();
      return rows.map((r) => r.event_id);
    },
    async close() {
      await inbox.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
