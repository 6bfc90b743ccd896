// bench/ingest: signed webhooks against `cloudclaude serve` (SQLite inbox, durable acknowledgement) and,
// in the same run, against the receivers a user would otherwise pick (no-op handlers, nothing stored).
// `serve` runs twice per platform: `--role ingress` (intake only) and the all-in-one default, whose router
// also works through every stored message (here: senders not in CLOUDCLAUDE_ADMINS, each told so).
//
//   node bench/ingest/run.ts [--seconds 5] [--rate 1000] [--concurrency 32]
//
// For each target: a closed loop at fixed concurrency (sustained requests/s and latency), then an open loop
// at a fixed rate (latency as a platform sending that many webhooks per second sees it). Results print as
// a Markdown table and are written to bench/results/.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../../test/support/cli.ts";
import { testPlatforms, type WebhookPlatformName } from "../../test/support/traffic.ts";
import { closedLoop, type LoadRequest, openLoop, summarize } from "../lib/load.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rate: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "32" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("usage: node bench/ingest/run.ts [--seconds 5] [--rate 1000] [--concurrency 32]");
  process.exit(0);
}
const seconds = Number(args.seconds);
const rate = Number(args.rate);
const concurrency = Number(args.concurrency);
const root = path.resolve(import.meta.dirname, "../..");
const traffic = testPlatforms();

interface Target {
  readonly name: string;
  readonly platform: WebhookPlatformName;
  readonly stores: boolean;
  start(port: number): ChildProcess;
}

const serveTarget = (platform: WebhookPlatformName, dataDir: string, role: "all" | "ingress"): Target => ({
  name: `cloudclaude serve${role === "ingress" ? " --role ingress" : ""} (${platform})`,
  platform,
  stores: true,
  start: (port) =>
    spawn(process.execPath, [path.join(root, "bin/cloudclaude.js"), "serve", "--role", role], {
      env: {
        PATH: process.env.PATH,
        ...traffic.env,
        CLOUDCLAUDE_DATA_DIR: dataDir,
        CLOUDCLAUDE_PORT: String(port),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    }),
});

const baseline = (name: string, platform: WebhookPlatformName, script: string): Target => ({
  name,
  platform,
  stores: false,
  start: (port) =>
    spawn(process.execPath, [path.join(root, "bench/ingest/baselines", script)], {
      env: { PATH: process.env.PATH, PORT: String(port), NODE_ENV: "production" },
      stdio: ["ignore", "ignore", "inherit"],
    }),
});

async function waitUntilListening(origin: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(500) });
      return; // any HTTP answer means it is listening
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${origin} did not start`);
}

function build(platform: WebhookPlatformName, count: number): LoadRequest[] {
  // Many senders (users) so requests spread over conversations as real traffic does.
  return Array.from({ length: count }, (_, i) =>
    traffic.message(platform, `bench message ${i}`, (i % 500) + 1),
  );
}

async function measure(target: Target) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = target.start(port);
  try {
    await waitUntilListening(origin, child);
    await closedLoop({ origin, requests: build(target.platform, 2_000), concurrency, durationMs: 1_000 }); // warm-up
    const closed = await closedLoop({
      origin,
      requests: build(target.platform, 15_000 * seconds),
      concurrency,
      durationMs: seconds * 1000,
    });
    const open = await openLoop({
      origin,
      requests: build(target.platform, rate * seconds),
      ratePerSecond: rate,
      durationMs: seconds * 1000,
    });
    return {
      target: target.name,
      stores: target.stores,
      closed: {
        rps: closed.requestsPerSecond,
        ...summarize(closed.latencies),
        errors: closed.errors,
        statuses: closed.statuses,
      },
      open: { rate, ...summarize(open.latencies), errors: open.errors, statuses: open.statuses },
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), "cc-bench-ingest-"));
const targets: Target[] = [
  ...(["line", "slack", "discord", "telegram"] as const).flatMap((p) => [
    serveTarget(p, dataDir, "ingress"),
    serveTarget(p, dataDir, "all"),
  ]),
  baseline("@line/bot-sdk middleware on Express", "line", "line-express.ts"),
  baseline("@slack/bolt HTTPReceiver", "slack", "slack-bolt.ts"),
  baseline("grammY webhookCallback on node:http", "telegram", "grammy-http.ts"),
];

const results = [];
for (const target of targets) {
  process.stderr.write(`measuring ${target.name}…\n`);
  results.push(await measure(target));
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node.js ${process.version}`;
console.log(`\nmachine: ${machine}`);
console.log(
  `command: node bench/ingest/run.ts --seconds ${seconds} --rate ${rate} --concurrency ${concurrency}\n`,
);
console.log(
  `| target | stores durably | closed loop (c=${concurrency}) req/s | p50 ms | p99 ms | open loop ${rate}/s p50 ms | p99 ms | max ms | non-2xx/errors |`,
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const bad =
    Object.entries({ ...r.closed.statuses, ...r.open.statuses })
      .filter(([s]) => !s.startsWith("2"))
      .reduce((n, [, c]) => n + c, 0) +
    r.closed.errors +
    r.open.errors;
  console.log(
    `| ${r.target} | ${r.stores ? "yes" : "no"} | ${Math.round(r.closed.rps)} | ${f(r.closed.p50)} | ${f(r.closed.p99)} | ${f(r.open.p50)} | ${f(r.open.p99)} | ${f(r.open.max)} | ${bad} |`,
  );
}
await mkdir(path.join(root, "bench/results"), { recursive: true });
const file = path.join(
  root,
  "bench/results",
  `ingest-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
);
await writeFile(file, JSON.stringify({ machine, seconds, rate, concurrency, results }, null, 2));
console.log(`\nraw results: ${path.relative(root, file)}`);
