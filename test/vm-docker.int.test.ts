import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { ensureTestImage, localDocker, removeInstance } from "./support/docker.ts";
import { E2eSystem } from "./support/e2e.ts";

/**
 * The whole system with CLOUDCLAUDE_RUNTIME=docker on the machine's engine: switchboards and project VMs
 * in hardened containers, idle sleep and wake with history, `/vm` and `/projects` from chat, the CLI, and
 * a SIGKILL of the manager in the middle of creating a container.
 */
const instance = `e${randomBytes(3).toString("hex")}`;
const docker: Dockerode = localDocker();
let system: E2eSystem;

async function containers(agentPrefix: string): Promise<Dockerode.ContainerInfo[]> {
  const all = await docker.listContainers({
    all: true,
    filters: { label: [`cloudclaude.instance=${instance}`] },
  });
  return all.filter((c) => (c.Labels["cloudclaude.agent"] ?? "").startsWith(agentPrefix));
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; server: ${system.server.output().slice(-3000)}`);
}

/** Replies in user `u`'s Telegram chat, in order. */
function chat(u: number): string[] {
  return system.sim.messagesTo(10_000 + u, "telegram").map((m) => m.text);
}

async function ask(u: number, text: string, expectReply: (t: string) => boolean, timeoutMs = 30_000) {
  const before = chat(u).length;
  await system.post(system.message("telegram", text, u));
  await system.sim.waitFor(
    () => chat(u).slice(before).some(expectReply),
    timeoutMs,
    `a reply to ${JSON.stringify(text)} (got ${JSON.stringify(chat(u).slice(before))}; server: ${system.server.output().slice(-2000)})`,
  );
  return chat(u).slice(before);
}

beforeAll(async () => {
  const image = await ensureTestImage(docker);
  system = await E2eSystem.start({
    CLOUDCLAUDE_RUNTIME: "docker",
    CLOUDCLAUDE_AGENT_IMAGE: image,
    CLOUDCLAUDE_AGENT_NETWORK: "none",
    CLOUDCLAUDE_AGENT_MEMORY_MB: "512",
    CLOUDCLAUDE_INSTANCE: instance,
    CLOUDCLAUDE_SWITCHBOARD_IDLE_MS: "4000",
    CLOUDCLAUDE_VM_IDLE_MS: "4000",
    // The image has the fake CLI inside; the host's path means nothing in a container.
    CLAUDE_CODE_EXECUTABLE: "",
  });
}, 600_000);

afterAll(async () => {
  await system?.stop();
  await removeInstance(docker, instance);
}, 120_000);

describe("Docker runtime end to end", () => {
  it("a first message creates the person's switchboard container, hardened, and is answered", async () => {
    await ask(1, "echo hello from a container", (t) => t.includes("echo: hello from a container"));
    const [sb] = await containers("sb-");
    expect(sb?.State).toBe("running");
    const info = await docker.getContainer(sb?.Id ?? "").inspect();
    expect(info.Config.User).toBe("1000:1000");
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(info.Mounts.map((m) => m.Destination)).toEqual(["/home/agent"]);
  }, 120_000);

  it("an idle switchboard is removed, and the next message recreates it with the conversation intact", async () => {
    await waitUntil("the idle switchboard to be removed", async () => (await containers("sb-")).length === 0);
    const volumes = await docker.listVolumes({ filters: { label: [`cloudclaude.instance=${instance}`] } });
    expect(volumes.Volumes?.length).toBeGreaterThan(0);
    // `history` answers how many earlier prompts the resumed session holds: the first message's.
    const replies = await ask(1, "history", (t) => /^\d+$/.test(t.trim()));
    expect(replies.find((t) => /^\d+$/.test(t.trim()))?.trim()).toBe("1");
    expect((await containers("sb-")).map((c) => c.State)).toEqual(["running"]);
  }, 120_000);

  it("a project VM sleeps when idle, says so in /status, and wakes on the next message with its history", async () => {
    expect(
      (await runCli(["projects", "create", "harbor", "--owner", "telegram:10002"], system.env)).code,
    ).toBe(0);
    expect((await runCli(["projects", "bind", "harbor", "telegram:10002"], system.env)).code).toBe(0);
    await ask(2, "echo inside the vm", (t) => t.includes("echo: inside the vm"));
    await waitUntil("the idle VM to stop", async () => {
      const [vm] = await containers("vm-");
      return vm !== undefined && vm.State !== "running";
    });
    const status = await ask(2, "/status", (t) => t.includes("stopped"));
    expect(status.join("\n")).toMatch(/went to sleep after \d+ s idle/);
    const vmStatus = await ask(2, "/vm status", (t) => t.includes("VM of harbor"));
    expect(vmStatus.join("\n")).toMatch(/stopped/);

    const replies = await ask(2, "history", (t) => /^\d+$/.test(t.trim()));
    expect(replies.find((t) => /^\d+$/.test(t.trim()))?.trim()).toBe("1");
    expect((await containers("vm-")).map((c) => c.State)).toEqual(["running"]);
  }, 120_000);

  it("/vm stop, /vm start, /projects and /vm delete with confirmation, from chat", async () => {
    // Someone else naming it is told it does not exist for them.
    await ask(3, "/vm stop harbor", (t) => t.includes("You have no project named harbor"));

    await ask(2, "/vm stop", (t) => t.includes("is stopped"));
    expect((await containers("vm-"))[0]?.State).not.toBe("running");
    await ask(2, "/vm start", (t) => t.includes("is running"));
    expect((await containers("vm-"))[0]?.State).toBe("running");
    const list = await ask(2, "/projects", (t) => t.includes("harbor"));
    expect(list.join("\n")).toMatch(/harbor \(this chat\): running/);

    const confirm = await ask(2, "/vm delete", (t) => t.includes("/vm delete harbor"));
    expect(confirm.join("\n")).toMatch(/deletes the VM of harbor and its disk/);
    expect(await containers("vm-")).toHaveLength(1);
    await ask(2, "/vm delete harbor", (t) => t.includes("were deleted"));
    expect(await containers("vm-")).toHaveLength(0);
    const volumes = await docker.listVolumes({ filters: { label: [`cloudclaude.instance=${instance}`] } });
    expect((volumes.Volumes ?? []).filter((v) => v.Labels?.["cloudclaude.agent"]?.startsWith("vm-"))).toEqual(
      [],
    );

    // The next message gets a fresh VM (no history).
    const replies = await ask(2, "history", (t) => /^\d+$/.test(t.trim()));
    expect(replies.find((t) => /^\d+$/.test(t.trim()))?.trim()).toBe("0");
  }, 180_000);

  it("cloudclaude vm ls/stop/start and hosts ls", async () => {
    const hosts = await runCli(["hosts", "ls"], system.env);
    expect(hosts.code, hosts.output).toBe(0);
    expect(hosts.output).toMatch(/^local {2}unix:\/\/\/var\/run\/docker\.sock {2}up \(Docker [\d.]+/m);
    const ls = await runCli(["vm", "ls"], system.env);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.output).toMatch(/vm-\S+ {2}harbor {2}\w+.* {2}host=local/);
    const stop = await runCli(["vm", "stop", "harbor"], system.env);
    expect(stop.code, stop.output).toBe(0);
    expect((await containers("vm-"))[0]?.State).not.toBe("running");
    // The bridge dropped; serve must not wake what was stopped on purpose.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await containers("vm-"))[0]?.State).not.toBe("running");
    const start = await runCli(["vm", "start", "harbor"], system.env);
    expect(start.code, start.output).toBe(0);
    expect((await containers("vm-"))[0]?.State).toBe("running");
    const bad = await runCli(["vm", "rm", "harbor", "--volume"], system.env);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/add --yes/);
    expect(await containers("vm-")).toHaveLength(1);
  }, 120_000);

  it("SIGKILL of the manager while it creates a container: after restart, one container and one reply", async () => {
    const existing = new Set((await containers("sb-")).map((c) => c.Id));
    await system.post(system.message("telegram", "echo survived the crash", 3));
    await waitUntil("user 3's switchboard container to be created", async () =>
      (await containers("sb-")).some((c) => !existing.has(c.Id)),
    );
    await system.crashAndRestart();
    await system.sim.waitFor(
      () => chat(3).some((t) => t.includes("echo: survived the crash")),
      60_000,
      "the reply after the crash",
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(chat(3).filter((t) => t.includes("survived the crash"))).toHaveLength(1);
    // One container for user 3's switchboard: the one the killed manager created, adopted.
    const created = (await containers("sb-")).filter((c) => !existing.has(c.Id));
    expect(created).toHaveLength(1);
  }, 120_000);
});
