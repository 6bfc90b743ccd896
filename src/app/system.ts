import type { Hono } from "hono";
import type { Config } from "../config/index.ts";
import { createHttpApp } from "../http/app.ts";
import { type RunningServer, startHttpServer } from "../http/server.ts";
import { createInbox, type Inbox } from "../inbox/index.ts";
import { createWebhookPlatforms, mountWebhookRoutes } from "../ingress/index.ts";
import type { Logger } from "../shared/logger.ts";
import { createMetrics, registerInboxGauges } from "../shared/metrics.ts";
import { openStore, type Store } from "../store/index.ts";

/**
 * The composition root: the only place that knows which implementation serves each port. Everything
 * below receives its dependencies; nothing reads `process.env` on its own (DESIGN §3.10).
 */
export interface System {
  readonly store: Store;
  readonly inbox: Inbox;
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
  const { store, handle, appliedMigrations } = await openStore(config.database);
  if (appliedMigrations.length > 0) logger.info({ migrations: appliedMigrations }, "database migrated");
  const inbox = createInbox(handle, config.inbox);
  registerInboxGauges(metrics, inbox);

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
  const platforms = createWebhookPlatforms(config.platforms);
  mountWebhookRoutes(http, { platforms, inbox, logger, metrics });
  logger.info(
    { webhooks: platforms.map((p) => `/webhooks/${p.platform}`) },
    platforms.length > 0 ? "webhook endpoints enabled" : "no chat platform configured yet (see .env.example)",
  );

  // Handled items are kept for the dedupe window, then purged.
  const purgeTimer = setInterval(() => {
    inbox.purge().catch((error: unknown) => logger.warn({ err: error }, "inbox purge failed"));
  }, 15 * 60_000);
  purgeTimer.unref();

  let server: RunningServer | undefined;
  let stopping: Promise<void> | undefined;

  return {
    store,
    inbox,
    http,
    async listen() {
      server = await startHttpServer(http, config.http);
      return server;
    },
    stop() {
      stopping ??= (async () => {
        const steps: Array<[string, () => Promise<void>]> = [
          ["http server", async () => server?.close(config.shutdownTimeoutMs)],
          ["purge timer", async () => clearInterval(purgeTimer)],
          // After the listener: requests still draining may enqueue until then.
          ["inbox", () => inbox.close()],
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
