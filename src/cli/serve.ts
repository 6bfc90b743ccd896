import { createSystem, type Role } from "../app/system.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../shared/logger.ts";

/**
 * `cloudclaude serve`: every component in one process. Exits 0 after a graceful SIGTERM/SIGINT; a second
 * signal while draining exits at once with 130.
 */
export async function runServe(config: Config, logger: Logger, role: Role = "all"): Promise<void> {
  const system = await createSystem(config, logger, role);
  const server = await system.listen();
  logger.info(
    { url: server.url, dataDir: config.dataDir, database: config.database.kind, role },
    `CloudClaude is listening on ${server.url}`,
  );

  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, "second signal: exiting without waiting");
        process.exit(130);
      }
      signalled = true;
      logger.info({ signal }, "shutting down: no new requests, draining in-flight work");
      system.stop().then(resolve, resolve);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  logger.info("stopped cleanly");
  logger.flush();
}
