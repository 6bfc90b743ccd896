import { Pool } from "undici";

/** One HTTP request the generator sends (pre-built: signing happens before the clock starts). */
export interface LoadRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface LoadResult {
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly durationMs: number;
  readonly requestsPerSecond: number;
  /** Milliseconds, sorted ascending. */
  readonly latencies: Float64Array;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(latencies: Float64Array): LatencySummary {
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? Number.NaN };
}

/**
 * Closed loop: `concurrency` workers each send their next request as soon as the previous one is answered,
 * for `durationMs`. Measures the most a server sustains. Each request is used once (wrapping around if the
 * list runs out, which the caller avoids by building enough).
 */
export async function closedLoop(options: {
  origin: string;
  requests: readonly LoadRequest[];
  concurrency: number;
  durationMs: number;
}): Promise<LoadResult> {
  const pool = new Pool(options.origin, { connections: options.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const req = options.requests[next++ % options.requests.length] as LoadRequest;
      const t0 = performance.now();
      try {
        const res = await pool.request({
          path: req.path,
          method: "POST",
          headers: req.headers,
          body: req.body,
        });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const durationMs = performance.now() - start;
  await pool.close();
  return result(latencies, statuses, errors, durationMs);
}

/**
 * Open loop: request i is due at start + i / rate, whether or not earlier ones were answered, and its
 * latency counts from when it was due. So a server that falls behind shows it in the tail (no coordinated
 * omission), as a platform sending webhooks at that rate would experience it.
 */
export async function openLoop(options: {
  origin: string;
  requests: readonly LoadRequest[];
  ratePerSecond: number;
  durationMs: number;
  connections?: number;
}): Promise<LoadResult> {
  const pool = new Pool(options.origin, { connections: options.connections ?? 64, pipelining: 1 });
  const total = Math.floor((options.ratePerSecond * options.durationMs) / 1000);
  const interval = 1000 / options.ratePerSecond;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const req = options.requests[i % options.requests.length] as LoadRequest;
    inflight.push(
      pool.request({ path: req.path, method: "POST", headers: req.headers, body: req.body }).then(
        async (res) => {
          await res.body.dump();
          latencies.push(performance.now() - due);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        },
        () => {
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const durationMs = performance.now() - start;
  await pool.close();
  return result(latencies, statuses, errors, durationMs);
}

function result(
  latencies: number[],
  statuses: Record<string, number>,
  errors: number,
  durationMs: number,
): LoadResult {
  const sorted = Float64Array.from(latencies).sort();
  const ok = Object.entries(statuses)
    .filter(([s]) => s.startsWith("2"))
    .reduce((n, [, c]) => n + c, 0);
  return {
    sent: latencies.length + errors,
    ok,
    errors,
    statuses,
    durationMs,
    requestsPerSecond: (ok * 1000) / durationMs,
    latencies: sorted,
  };
}
