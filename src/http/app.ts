import { Hono } from "hono";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";

/** What `/readyz` reports about one dependency. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<{ ok: boolean; detail?: Record<string, unknown> }>;
}

export interface HttpAppDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly readiness: readonly ReadinessCheck[];
}

/**
 * The HTTP surface as a plain Hono app: a standard `fetch(Request) → Response` handler, so the same app
 * runs under `@hono/node-server` here and in a serverless function later. Components mount their routes
 * on it in the composition root.
 */
export function createHttpApp(deps: HttpAppDeps): Hono {
  const app = new Hono();

  app.use(async (c, next) => {
    const end = deps.metrics.httpRequestDuration.startTimer({ method: c.req.method });
    await next();
    // The matched route pattern, not the raw path, keeps label cardinality bounded.
    end({ route: c.req.routePath, status: String(c.res.status) });
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const results = await Promise.all(
      deps.readiness.map(async (r) => {
        try {
          return { name: r.name, ...(await r.check()) };
        } catch (error) {
          return { name: r.name, ok: false, detail: { error: (error as Error).message } };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    return c.json({ status: ready ? "ready" : "not ready", checks: results }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const body = await deps.metrics.registry.metrics();
    return c.body(body, 200, { "content-type": deps.metrics.registry.contentType });
  });

  app.notFound((c) => c.json({ error: "not found" }, 404));

  // The one place errors become responses. A handler bug is a 500 with no internals leaked.
  app.onError((error, c) => {
    deps.logger.error({ err: error, path: c.req.path }, "unhandled error in HTTP handler");
    return c.json({ error: "internal error" }, 500);
  });

  return app;
}
