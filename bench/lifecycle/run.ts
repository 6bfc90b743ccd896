// bench/lifecycle: how long people wait for an agent container, on the machine's Docker engine, beside
// the engine's own floor for the same image.
//
//   node bench/lifecycle/run.ts [--runs 20]
//
// Measured through the VM Manager (the real one, SQLite records, the test image with the fake Claude Code):
//   create → ready:   ensureRunning of a new agent + bridge through exec + the daemon's welcome
//   stopped → ready:  the same for a stopped agent (container and volume exist)
//   stopped → first event: the above, then a message's turn (the session opens, Claude Code starts)
//   warm hand-off:    bridge attached and session open: turn frame written → the turn's first event
// Floor: the engine's API alone, same image and command: create + start returned; start of a stopped one.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { encodeFrame, PROTOCOL_VERSION } from "../../src/agent/protocol.ts";
import { openStore } from "../../src/store/index.ts";
import { type ContainerSettings, containerOptions } from "../../src/vm/docker/container-spec.ts";
import { DockerHost } from "../../src/vm/docker/host.ts";
import { VmManager } from "../../src/vm/manager.ts";
import type { AgentSpec, BridgeStream } from "../../src/vm/port.ts";
import { VmRecords } from "../../src/vm/records.ts";
import { ensureTestImage, localDocker } from "../../test/support/docker.ts";
import { summarize } from "../lib/load.ts";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "20" }, help: { type: "boolean" } },
});
if (args.help) {
  console.log("usage: node bench/lifecycle/run.ts [--runs 20]");
  process.exit(0);
}
const runs = Number(args.runs);
const docker = localDocker();
const image = await ensureTestImage(docker);
const instance = `bench${randomBytes(2).toString("hex")}`;
const settings: ContainerSettings = {
  instance,
  image,
  network: "none",
  limits: { memoryBytes: 1024 * 1024 * 1024, nanoCpus: 1e9, pids: 256, tmpBytes: 64 * 1024 * 1024 },
};
const logger = pino({ level: "silent" });
const host = new DockerHost({ name: "local", docker, settings, logger });
const opened = await openStore({
  kind: "sqlite",
  path: path.join(await mkdtemp(path.join(os.tmpdir(), "cc-bench-lifecycle-")), "db.sqlite"),
});
const manager = new VmManager({
  records: new VmRecords(opened.handle.db),
  hosts: [host],
  capacityPerHost: 1000,
  logger,
});

const spec = (name: string): AgentSpec => ({
  name,
  kind: "switchboard",
  env: { ANTHROPIC_API_KEY: "sk-ant-bench" },
  labels: { "cloudclaude.user": "bench" },
});

/** Attached bridge with its frames as a queue. */
async function attach(
  name: string,
): Promise<{ bridge: BridgeStream; next: (pred: (f: Frame) => boolean) => Promise<Frame> }> {
  const bridge = await manager.openBridge(name);
  const waiting: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  createInterface({ input: bridge.stdout }).on("line", (line) => {
    const frame = JSON.parse(line) as Frame;
    const i = waiting.findIndex((w) => w.pred(frame));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(frame);
  });
  const next = (pred: (f: Frame) => boolean) =>
    new Promise<Frame>((resolve) => waiting.push({ pred, resolve }));
  return { bridge, next };
}
type Frame = { type: string; turnId?: string };

async function ready(name: string) {
  await manager.ensureRunning(spec(name));
  const a = await attach(name);
  const welcome = a.next((f) => f.type === "welcome");
  a.bridge.stdin.write(encodeFrame({ type: "hello", protocol: PROTOCOL_VERSION, resumeFrom: 0 }));
  await welcome;
  return a;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const results: Record<string, Float64Array> = {};
const measure = async (label: string, once: (i: number) => Promise<number>) => {
  const out = new Float64Array(runs);
  for (let i = 0; i < runs; i++) out[i] = await once(i);
  out.sort();
  results[label] = out;
  const s = summarize(out);
  process.stderr.write(`${label}: p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms\n`);
};

try {
  await measure("create → ready (VM Manager)", async (i) => {
    const t0 = process.hrtime.bigint();
    const a = await ready(`sb-create-${i}`);
    const took = ms(t0);
    a.bridge.close();
    await manager.remove(`sb-create-${i}`, { volume: true });
    return took;
  });

  const warm = await ready("sb-stopped");
  warm.bridge.close();
  await measure("stopped → ready (VM Manager)", async () => {
    await manager.stop("sb-stopped");
    const t0 = process.hrtime.bigint();
    const a = await ready("sb-stopped");
    const took = ms(t0);
    a.bridge.close();
    return took;
  });

  /** Sends a turn on `a` and resolves when its first event comes back; `done` when it finishes. */
  const sendTurn = (a: Awaited<ReturnType<typeof ready>>, turnId: string, text: string) => {
    const first = a.next((f) => f.turnId === turnId);
    const done = a.next((f) => f.turnId === turnId && f.type === "turn_finished");
    a.bridge.stdin.write(
      encodeFrame({
        type: "turn",
        turnId,
        conversation: "bench:c1",
        attempt: 1,
        sessionId: null,
        text,
        sender: { id: "bench" },
      }),
    );
    return { first, done };
  };

  await measure("stopped → first event of a message (wake, attach, open session, turn)", async (i) => {
    await manager.stop("sb-stopped");
    const t0 = process.hrtime.bigint();
    const a = await ready("sb-stopped");
    const turn = sendTurn(a, `wake-${i}`, `echo ${i}`);
    await turn.first;
    const took = ms(t0);
    await turn.done;
    a.bridge.close();
    return took;
  });

  const a = await ready("sb-stopped");
  await sendTurn(a, "warm-up", "echo warm").done; // the session is open from here on
  await measure("warm hand-off: turn frame → first event", async (i) => {
    const t0 = process.hrtime.bigint();
    const turn = sendTurn(a, `bench-${i}`, `echo ${i}`);
    await turn.first;
    const took = ms(t0);
    await turn.done;
    return took;
  });
  a.bridge.close();

  await measure("floor: engine create + start (same image)", async (i) => {
    const name = `cloudclaude-${instance}-floor-${i}`;
    const t0 = process.hrtime.bigint();
    const options = containerOptions(spec(`floor-${i}`), settings, {
      container: name,
      volume: `${name}-home`,
    });
    const c = await docker.createContainer(options);
    await c.start();
    const took = ms(t0);
    await c.remove({ force: true });
    await docker.getVolume(`${name}-home`).remove();
    return took;
  });

  const floorName = `cloudclaude-${instance}-floor-start`;
  const floor = await docker.createContainer(
    containerOptions(spec("floor-start"), settings, { container: floorName, volume: `${floorName}-home` }),
  );
  await measure("floor: engine start of a stopped container", async () => {
    const t0 = process.hrtime.bigint();
    await floor.start();
    const took = ms(t0);
    await floor.stop({ t: 5 });
    return took;
  });
  await floor.remove({ force: true });
  await docker.getVolume(`${floorName}-home`).remove();
} finally {
  const filters = { label: [`cloudclaude.instance=${instance}`] };
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    await docker.getVolume(v.Name).remove();
  await opened.store.close();
}

const info = await docker.info();
console.log(
  `\n| Path (${runs} runs, ${os.cpus().length} cores, Docker ${info.ServerVersion}, ${info.Driver}) | p50 | p99 |`,
);
console.log("|---|---|---|");
for (const [label, values] of Object.entries(results)) {
  const s = summarize(values);
  console.log(`| ${label} | ${s.p50.toFixed(0)} ms | ${s.p99.toFixed(0)} ms |`);
}
