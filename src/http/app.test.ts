import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../shared/logger.ts";
import { createMetrics } from "../shared/metrics.ts";
import { createHttpApp, type ReadinessCheck } from "./app.ts";

function setup(readiness: ReadinessCheck[]) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: "info", destination });
  const app = createHttpApp({ logger, metrics: createMetrics(), readiness });
  return { app, lines };
}

describe("HTTP app", () => {
  it("answers /healthz", async () => {
    const { app } = setup([]);
    const res = await app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("reports readiness from each check, 503 when one fails or throws", async () => {
    const { app } = setup([
      { name: "store", check: async () => ({ ok: true, detail: { dialect: "sqlite" } }) },
      {
        name: "broken",
        check: async () => {
          throw new Error("connection refused");
        },
      },
    ]);
    const res = await app.request("/readyz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: "not ready",
      checks: [
        { name: "store", ok: true, detail: { dialect: "sqlite" } },
        { name: "broken", ok: false, detail: { error: "connection refused" } },
      ],
    });
  });

  it("serves Prometheus text including request timings by route", async () => {
    const { app } = setup([]);
    await app.request("/healthz");
    const res = await app.request("/metrics");
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const body = await res.text();
    expect(body).toMatch(/cloudclaude_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} 1/);
    expect(body).toContain("cloudclaude_process_cpu_seconds_total");
  });

  it("answers unknown paths with a JSON 404", async () => {
    const { app } = setup([]);
    const res = await app.request("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });

  it("turns a handler bug into a logged 500 without leaking the message", async () => {
    const { app, lines } = setup([]);
    app.get("/boom", () => {
      throw new Error("secret internals");
    });
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret internals");
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.join("")).toContain("unhandled error in HTTP handler");
  });
});
