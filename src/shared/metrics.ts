import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** One registry per process (not prom-client's global), so tests and several servers never collide. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<"method" | "route" | "status">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: "cloudclaude" });
  collectDefaultMetrics({ register: registry, prefix: "cloudclaude_" });
  const httpRequestDuration = new Histogram({
    name: "cloudclaude_http_request_duration_seconds",
    help: "HTTP requests by route and status, from first byte in to response out.",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, httpRequestDuration };
}
