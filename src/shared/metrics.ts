import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { InboxStats } from "../inbox/port.ts";

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

/** Inbox depth, read from the database at scrape time. */
export function registerInboxGauges(metrics: Metrics, inbox: { stats(): Promise<InboxStats> }): void {
  new Gauge({
    name: "cloudclaude_inbox_items",
    help: "Inbox items by status (pending, leased conversations, dead letters, handled and retained).",
    labelNames: ["status"] as const,
    registers: [metrics.registry],
    async collect() {
      const stats = await inbox.stats();
      this.set({ status: "pending" }, stats.pending);
      this.set({ status: "dead" }, stats.dead);
      this.set({ status: "done" }, stats.done);
      this.set({ status: "leased" }, stats.leased);
    },
  });
  new Gauge({
    name: "cloudclaude_inbox_oldest_pending_seconds",
    help: "Age of the oldest pending inbox item.",
    registers: [metrics.registry],
    async collect() {
      this.set((await inbox.stats()).oldestPendingAgeMs / 1000);
    },
  });
}
