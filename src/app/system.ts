import type { Hono } from "hono";
import type { Config } from "../config/index.ts";
import { createHttpApp } from "../http/app.ts";
import { type RunningServer, startHttpServer } from "../http/server.ts";
import type { Logger } from "../shared/logger.ts";
import { createMetrics } from "../shared/metrics.ts";
import { openStore, type Store } from "../store/index.ts";

/**
 * The composition root: the only place that knows which implementation serves each port. Everything
 * below receives its dependencies; nothing reads `process.env` on its own (DESIGN §3.10).
 */
export interface System {
  readonly store: Store;
  readonly http: Hono;
  /** Starts listening; resolves with the running server. */
  listen(): Promise<RunningServer>;
  /**
   * Orderly stop: stop intake (the listener), drain in-flight requests up to the configured timeout,
   * then close dependencies. Each step runs even if an earlier one failed. Idempotent.
   */
  stop(): Promise<void>;
}

export async function createSystem(config: Config, logger: Logger): Promise<System> {
  const metrics = createMetrics();
  const { store, appliedMigrations } = await openStore(config.database);
  if (appliedMigrations.length > 0) logger.info({ migrations: appliedMigrations }, "database migrated");

  const http = createHttpApp({
    logger,
    metrics,
    readiness: [
      {
        name: "store",
        async check() {
          const { ok, ...detail } = await store.health();
          return { ok, detail };
        },
      },
    ],
  });

  let server: RunningServer | undefined;
  let stopping: Promise<void> | undefined;

  return {
    store,
    http,
    async listen() {
      server = await startHttpServer(http, config.http);
      return server;
    },
    stop() {
      stopping ??= (async () => {
        const steps: Array<[string, () => Promise<void>]> = [
          ["http server", async () => server?.close(config.shutdownTimeoutMs)],
          ["store", () => store.close()],
        ];
        for (const [name, step] of steps) {
          try {
            await step();
          } catch (error) {
            logger.error({ err: error }, `failed to close ${name}`);
          }
        }
      })();
      return stopping;
    },
  };
}
