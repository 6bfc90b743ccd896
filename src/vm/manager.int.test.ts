import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type Dockerode from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyImage,
  ensureTestImage,
  localDocker,
  removeInstance,
  startDockerHost,
  type DockerHost as TestHost,
} from "../../test/support/docker.ts";
import { encodeFrame, PROTOCOL_VERSION } from "../agent/protocol.ts";
import { TurnStore } from "../router/turn-store.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { dockerClient } from "./docker/connection.ts";
import type { ContainerSettings } from "./docker/container-spec.ts";
import { DockerHost } from "./docker/host.ts";
import { VmManager } from "./manager.ts";
import { type AgentSpec, HostUnavailableError, NoCapacityError } from "./port.ts";
import { VmRecords } from "./records.ts";
import { VmSupervisor } from "./supervisor.ts";

/**
 * The VM Manager on the real Docker engine: hardened containers, adoption, the bridge through exec, the idle
 * policy, the reconciler, and a pool of two engines (the machine's and a second `dockerd`).
 */
const logger = pino({ level: "silent" });
const instance = `t${randomBytes(3).toString("hex")}`;

let image: string;
let opened: OpenedStore;
let second: TestHost;
const engines: Dockerode[] = [];

function settings(): ContainerSettings {
  return {
    instance,
    image,
    network: "none",
    limits: { memoryBytes: 256 * 1024 * 1024, nanoCpus: 500_000_000, pids: 128, tmpBytes: 64 * 1024 * 1024 },
  };
}

function spec(name: string, kind: AgentSpec["kind"] = "switchboard", env: Record<string, string> = {}) {
  return {
    name,
    kind,
    env: { ANTHROPIC_API_KEY: "sk-ant-test", ...env },
    labels: { "cloudclaude.user": "u1" },
  };
}

function manager(hosts: DockerHost[], capacityPerHost = 10, store = opened): VmManager {
  return new VmManager({ records: new VmRecords(store.handle.db), hosts, capacityPerHost, logger });
}

async function freshStore(): Promise<OpenedStore> {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-vm-"));
  return openStore({ kind: "sqlite", path: path.join(dir, "db.sqlite") });
}

function host(name: string, docker: Dockerode): DockerHost {
  return new DockerHost({ name, docker, settings: settings(), logger });
}

/** Opens the bridge and says hello; resolves with the daemon's welcome frame. */
async function hello(m: VmManager, name: string): Promise<{ type: string; lastSeq?: number }> {
  const bridge = await m.openBridge(name);
  const lines = createInterface({ input: bridge.stdout });
  bridge.stdin.write(encodeFrame({ type: "hello", protocol: PROTOCOL_VERSION, resumeFrom: 0 }));
  try {
    for await (const line of lines) {
      const frame = JSON.parse(line) as { type: string; lastSeq?: number };
      if (frame.type === "welcome") return frame;
    }
    throw new Error("bridge closed before the welcome");
  } finally {
    bridge.close();
  }
}

beforeAll(async () => {
  const docker = localDocker();
  image = await ensureTestImage(docker);
  second = await startDockerHost("cc-vm-second");
  await copyImage(docker, second.docker, image);
  engines.push(docker, second.docker);
  opened = await freshStore();
}, 600_000);

afterAll(async () => {
  // Everything this file created, on both engines.
  for (const docker of engines) await removeInstance(docker, instance);
  await opened?.store.close();
}, 120_000);

describe("VM Manager on Docker", () => {
  it("creates a hardened container whose bridge answers through exec, and adopts it on the next call", async () => {
    const local = host("local", engines[0] as Dockerode);
    const m = manager([local]);
    await m.ensureRunning(spec("sb-hardened"));
    expect((await hello(m, "sb-hardened")).type).toBe("welcome");

    const info = await (engines[0] as Dockerode).getContainer(local.containerName("sb-hardened")).inspect();
    expect(info.Config.User).toBe("1000:1000");
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(128);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(Object.keys(info.HostConfig.Tmpfs ?? {})).toEqual(["/tmp"]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.Init).toBe(true);
    const mounts = info.Mounts.map((x) => `${x.Type}:${x.Name}:${x.Destination}`);
    expect(mounts).toEqual([`volume:${local.volumeName("sb-hardened")}:/home/agent`]);
    expect(JSON.stringify(info)).not.toContain("docker.sock");
    expect(info.Config.Labels).toMatchObject({
      "cloudclaude.managed": "true",
      "cloudclaude.instance": instance,
      "cloudclaude.agent": "sb-hardened",
      "cloudclaude.kind": "switchboard",
      "cloudclaude.user": "u1",
    });
    // The secret is in the environment of its own container only, never in a label.
    expect(JSON.stringify(info.Config.Labels)).not.toContain("sk-ant-test");

    // A second manager (a restarted control plane) adopts the same container.
    const again = manager([local]);
    await again.ensureRunning(spec("sb-hardened"));
    const after = await (engines[0] as Dockerode).getContainer(local.containerName("sb-hardened")).inspect();
    expect(after.Id).toBe(info.Id);
    expect(after.State.StartedAt).toBe(info.State.StartedAt);
    expect((await again.inspect("sb-hardened"))?.state).toBe("running");
  }, 120_000);

  it("idle policy: a switchboard is removed but keeps its volume, a project VM is stopped; both come back", async () => {
    const local = host("local", engines[0] as Dockerode);
    const m = manager([local]);
    await m.ensureRunning(spec("sb-idle"));
    await m.ensureRunning(spec("vm-idle", "project"));
    await m.ensureRunning(spec("vm-busy", "project"));
    // The daemon writes its event log on the volume; it must survive the switchboard's removal.
    const welcome = await hello(m, "sb-idle");
    // A turn in progress on vm-busy (as the router records it before sending): it must not be stopped.
    const turns = new TurnStore(opened.handle.db);
    await turns.create({
      id: "t-busy",
      conversationKey: "telegram:1",
      agent: "vm-busy",
      userId: "u1",
      itemIds: [1],
      reply: {
        platform: "telegram",
        reply: { platform: "telegram", chatId: 1 },
        inboundReceivedAt: Date.now(),
        language: "en",
      },
    });
    const supervisor = new VmSupervisor({
      manager: m,
      logger,
      switchboardIdleMs: 0,
      projectIdleMs: 0,
      busyAgents: () => turns.busyAgents(60_000),
      singleProcess: true,
    });
    const slept = await supervisor.sweep();
    expect(slept).toEqual(expect.arrayContaining(["sb-idle", "vm-idle"]));
    expect(slept).not.toContain("vm-busy");

    expect(await local.inspect("sb-idle")).toBeUndefined(); // container gone…
    expect(await local.volumes()).toContain("sb-idle"); // …volume kept
    expect((await local.inspect("vm-idle"))?.running).toBe(false);
    expect((await local.inspect("vm-busy"))?.running).toBe(true);
    expect(await m.inspect("vm-idle")).toMatchObject({ state: "stopped", reason: "idle" });

    // A background reconnect must not wake what sleeps on purpose.
    await expect(m.ensureRunning(spec("vm-idle", "project"), { resume: true })).rejects.toThrow(/asleep/);
    expect((await local.inspect("vm-idle"))?.running).toBe(false);

    await m.ensureRunning(spec("sb-idle"));
    await m.ensureRunning(spec("vm-idle", "project"));
    expect((await local.inspect("sb-idle"))?.running).toBe(true);
    expect((await local.inspect("vm-idle"))?.running).toBe(true);
    expect((await hello(m, "sb-idle")).lastSeq).toBe(welcome.lastSeq);
  }, 120_000);

  it("an image missing on the host is said plainly, with the fix", async () => {
    const missing = new DockerHost({
      name: "local",
      docker: engines[0] as Dockerode,
      settings: { ...settings(), image: "cloudclaude-agent:not-built-here" },
      logger,
    });
    expect(await missing.hasImage()).toBe(false);
    const m = manager([missing]);
    await expect(m.ensureRunning(spec("sb-no-image"))).rejects.toThrow(
      /agent image cloudclaude-agent:not-built-here is not on Docker host local: .*images build --offline/,
    );
    expect(await m.inspect("sb-no-image")).toMatchObject({ state: "error" });
  }, 60_000);

  it("a stopped container built from an older spec is recreated; the volume stays", async () => {
    const local = host("local", engines[0] as Dockerode);
    const m = manager([local]);
    await m.ensureRunning(spec("sb-renew", "switchboard", { ANTHROPIC_API_KEY: "sk-ant-old" }));
    const before = await local.docker.getContainer(local.containerName("sb-renew")).inspect();
    // Running: left alone even though the credential changed.
    await m.ensureRunning(spec("sb-renew", "switchboard", { ANTHROPIC_API_KEY: "sk-ant-new" }));
    expect((await local.docker.getContainer(local.containerName("sb-renew")).inspect()).Id).toBe(before.Id);
    await m.stop("sb-renew");
    await m.ensureRunning(spec("sb-renew", "switchboard", { ANTHROPIC_API_KEY: "sk-ant-new" }));
    const after = await local.docker.getContainer(local.containerName("sb-renew")).inspect();
    expect(after.Id).not.toBe(before.Id);
    expect(after.Config.Env).toContain("ANTHROPIC_API_KEY=sk-ant-new");
    expect(after.Mounts[0]?.Name).toBe(before.Mounts[0]?.Name);
  }, 120_000);

  it("the reconciler repairs a state left by a crash, notices a dead container, adopts and removes orphans", async () => {
    const local = host("local", engines[0] as Dockerode);
    const m = manager([local]);
    const records = m.records;
    // As if a manager died between recording `creating` and the engine finishing: container made, not started.
    await records.create({ name: "sb-crashed", kind: "switchboard", userId: "u1", host: "local" });
    await local.ensureStarted(spec("sb-crashed"));
    await local.stop("sb-crashed", 0);
    // A container that died on its own.
    await m.ensureRunning(spec("sb-died"));
    await local.docker.getContainer(local.containerName("sb-died")).kill();
    // Ours but unknown to the store: one running (adopted), one stopped (removed).
    await local.ensureStarted(spec("sb-unknown-running"));
    await local.ensureStarted(spec("sb-unknown-stopped"));
    await local.stop("sb-unknown-stopped", 0);

    const supervisor = new VmSupervisor({
      manager: m,
      logger,
      switchboardIdleMs: 60_000,
      projectIdleMs: 60_000,
      busyAgents: async () => new Set(),
      singleProcess: true,
    });
    const report = await supervisor.reconcile(undefined, { afterRestart: true });
    expect(report.repaired).toEqual(expect.arrayContaining(["sb-crashed", "sb-died"]));
    expect(report.adopted).toContain("sb-unknown-running");
    expect(report.orphansRemoved).toContain("local/sb-unknown-stopped");
    expect(await m.inspect("sb-crashed")).toMatchObject({ state: "stopped", reason: "interrupted" });
    expect(await m.inspect("sb-died")).toMatchObject({ state: "stopped", reason: "crashed" });
    expect(await m.inspect("sb-unknown-running")).toMatchObject({ state: "running" });
    expect(await local.inspect("sb-unknown-stopped")).toBeUndefined();
    // And the repaired one simply starts on its next message.
    await m.ensureRunning(spec("sb-crashed"));
    expect((await hello(m, "sb-crashed")).type).toBe("welcome");
  }, 120_000);

  it("a pool: the least loaded host with room takes new agents, a host that stops answering is reported, then recovers", async () => {
    const local = host("local", engines[0] as Dockerode);
    const far = host("far", dockerClient({ name: "far", url: second.url }));
    const m = manager([local, far], 1, await freshStore()); // its own records: an empty pool
    await m.ensureRunning(spec("vm-pool-a", "project"));
    await m.ensureRunning(spec("vm-pool-b", "project"));
    const a = await m.inspect("vm-pool-a");
    const b = await m.inspect("vm-pool-b");
    expect(new Set([a?.host, b?.host])).toEqual(new Set(["local", "far"]));
    expect((await far.inspect(b?.host === "far" ? "vm-pool-b" : "vm-pool-a"))?.running).toBe(true);
    // Both full (capacity 1 each): no room for a third.
    await expect(m.ensureRunning(spec("vm-pool-c", "project"))).rejects.toBeInstanceOf(NoCapacityError);

    const onFar = b?.host === "far" ? "vm-pool-b" : "vm-pool-a";
    await second.kill();
    const supervisor = new VmSupervisor({
      manager: m,
      logger,
      switchboardIdleMs: 60_000,
      projectIdleMs: 60_000,
      busyAgents: async () => new Set(),
      singleProcess: true,
    });
    await supervisor.checkHosts();
    expect((await m.inspect(onFar))?.state).toBe("unavailable");
    await expect(m.ensureRunning(spec(onFar, "project"))).rejects.toBeInstanceOf(HostUnavailableError);

    await second.restart();
    await supervisor.checkHosts(); // back: reconciled at once…
    await supervisor.stop(); // (which waits for that reconcile)
    // …which noticed that the engine's restart left the container stopped.
    expect(await m.inspect(onFar)).toMatchObject({ state: "stopped", reason: "crashed" });
    await m.ensureRunning(spec(onFar, "project"));
    expect((await m.inspect(onFar))?.state).toBe("running");
    expect((await hello(m, onFar)).type).toBe("welcome");
  }, 240_000);

  it("survives a restart of dockerd: the agent is started again on its next use, same volume", async () => {
    const far = host("far", dockerClient({ name: "far", url: second.url }));
    const m = manager([far], 10);
    await m.ensureRunning(spec("sb-engine-restart"));
    const first = await hello(m, "sb-engine-restart");
    await second.restart();
    await m.ensureRunning(spec("sb-engine-restart"));
    expect((await far.inspect("sb-engine-restart"))?.running).toBe(true);
    expect((await hello(m, "sb-engine-restart")).lastSeq).toBe(first.lastSeq);
  }, 240_000);
});
