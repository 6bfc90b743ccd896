// bench/handoff: how long a message waits in our machinery once the agent is warm, beside the way most
// chat-to-Claude bridges work (spawn the CLI for every message), in one run, with the same fake Claude Code.
//
//   node bench/handoff/run.ts [--runs 50]
//
// Measured on the real `serve` (SQLite, process runtime, real daemon and Agent SDK, fake Claude Code):
//   webchat:  message stored (POST answered) → first agent event at the page (SSE delta) → reply delivered
//   telegram: webhook acknowledged → first outbound API call at the platform simulator
// Baseline: a fresh query() per message (new Claude Code process) → first SDK message → result.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { query } from "@anthropic-ai/claude-agent-sdk";
import { freePort, startCli, waitForOk } from "../../test/support/cli.ts";
import { FAKE_CLAUDE } from "../../test/support/fake-claude/agent-harness.ts";
import { PlatformSimulator } from "../../test/support/fakes/platform-simulator.ts";
import { testPlatforms } from "../../test/support/traffic.ts";
import { summarize } from "../lib/load.ts";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "50" }, help: { type: "boolean" } },
});
if (args.help) {
  console.log("usage: node bench/handoff/run.ts [--runs 50]");
  process.exit(0);
}
const runs = Number(args.runs);

const traffic = testPlatforms();
const sim = await PlatformSimulator.start();
const dataDir = await mkdtemp(path.join(os.tmpdir(), "cc-bench-handoff-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = startCli(["serve"], {
  ...traffic.env,
  ...sim.baseUrls(),
  CLOUDCLAUDE_DATA_DIR: dataDir,
  CLOUDCLAUDE_PORT: String(port),
  CLOUDCLAUDE_ADMINS: "telegram:10001",
  TELEGRAM_BOT_TOKEN: traffic.env.TELEGRAM_BOT_TOKEN ?? "",
  ANTHROPIC_API_KEY: "sk-ant-bench-not-a-real-key",
  CLAUDE_CODE_EXECUTABLE: FAKE_CLAUDE,
  LOG_LEVEL: "warn",
});
await waitForOk(`${base}/readyz`, server);
process.stderr.write("serve is up\n");

// ---- webchat: POST answered → first SSE delta → final message
const session = "bench-handoff-0001";
const sse = await fetch(`${base}/webchat/api/stream?session=${session}`);
const reader = sse.body?.getReader();
if (!reader) throw new Error("no event stream");
/** Turn ids seen so far, and who waits for the next new turn's first delta / a turn's final message. */
const seen = new Set<string>();
let onNewTurn: ((at: number, turnId: string) => void) | undefined;
const onFinal = new Map<string, (at: number) => void>();
const finalAt = new Map<string, number>();
void (async () => {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const at = performance.now();
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (\w+)/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || !data || event === "ping") continue;
      const { turnId = "" } = JSON.parse(data) as { turnId?: string };
      if (!seen.has(turnId)) {
        seen.add(turnId);
        onNewTurn?.(at, turnId);
      }
      if (event === "message") {
        finalAt.set(turnId, at);
        onFinal.get(turnId)?.(at);
      }
    }
  }
})();

async function webchatRound(i: number) {
  const first = new Promise<{ at: number; turnId: string }>((resolve) => {
    onNewTurn = (at, turnId) => resolve({ at, turnId });
  });
  const posted = await fetch(`${base}/webchat/api/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ session, text: `echo round ${i}` }),
  });
  const acked = performance.now();
  await posted.arrayBuffer();
  const { at: firstAt, turnId } = await first;
  const final = finalAt.get(turnId) ?? (await new Promise<number>((resolve) => onFinal.set(turnId, resolve)));
  return { firstEvent: firstAt - acked, delivered: final - acked };
}

// ---- telegram: webhook acknowledged → first outbound API call
async function telegramRound(i: number) {
  const req = traffic.message("telegram", `echo tg ${i}`, 1);
  const before = sim.calls({ platform: "telegram", endpoint: "sendMessage" }).length;
  const res = await fetch(`${base}${req.path}`, { method: "POST", headers: req.headers, body: req.body });
  const ackedWall = Date.now();
  await res.arrayBuffer();
  await sim.waitFor(
    (s) => s.calls({ platform: "telegram", endpoint: "sendMessage" }).length > before,
    20_000,
  );
  const call = sim.calls({ platform: "telegram", endpoint: "sendMessage" })[before];
  return (call?.at ?? Date.now()) - ackedWall;
}

// ---- baseline: a new Claude Code process per message
async function spawnRound(i: number) {
  const started = performance.now();
  let firstEvent = Number.NaN;
  for await (const m of query({
    prompt: `echo spawn ${i}`,
    options: {
      pathToClaudeCodeExecutable: FAKE_CLAUDE,
      cwd: dataDir,
      env: { PATH: process.env.PATH ?? "", HOME: dataDir, CLAUDE_CONFIG_DIR: path.join(dataDir, "baseline") },
      settingSources: [],
      permissionMode: "default",
    },
  })) {
    if (Number.isNaN(firstEvent)) firstEvent = performance.now() - started;
    if (m.type === "result") break;
  }
  return { firstEvent, result: performance.now() - started };
}

for (let i = 0; i < 5; i++) {
  process.stderr.write(`warm-up ${i}\n`);
  await webchatRound(-i - 1); // warm the switchboard and its live session
  await telegramRound(-i - 1);
}
const web = { first: [] as number[], delivered: [] as number[] };
const tg: number[] = [];
const spawn = { first: [] as number[], result: [] as number[] };
for (let i = 0; i < runs; i++) {
  const w = await webchatRound(i);
  web.first.push(w.firstEvent);
  web.delivered.push(w.delivered);
  tg.push(await telegramRound(i));
  const s = await spawnRound(i);
  spawn.first.push(s.firstEvent);
  spawn.result.push(s.result);
}

const row = (name: string, xs: number[]) => {
  const s = summarize(Float64Array.from(xs).sort());
  return `| ${name} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} |`;
};
console.log(`\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, Node.js ${process.version}`);
console.log(`command: node bench/handoff/run.ts --runs ${runs}\n`);
console.log("| path (warm agent unless noted) | p50 ms | p99 ms | max ms |\n|---|---|---|---|");
console.log(row("webchat: stored → first agent event at the page", web.first));
console.log(row("webchat: stored → reply delivered to the page", web.delivered));
console.log(row("telegram: webhook acked → first outbound API call", tg));
console.log(row("baseline, new CLI per message: start → first event", spawn.first));
console.log(row("baseline, new CLI per message: start → result", spawn.result));

server.child.kill("SIGTERM");
await server.exited;
await sim.close();
process.exit(0);
