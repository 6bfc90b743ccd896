import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import {
  copyImage,
  type DockerHost,
  ensureTestImage,
  localDocker,
  removeInstance,
  startDockerHost,
} from "./support/docker.ts";
import { E2eSystem } from "./support/e2e.ts";

/**
 * A pool of two Docker hosts behind one `serve`: the machine's engine and a second `dockerd`. New agents
 * spread to the host with room; a host that dies is reported in chat, its messages wait, and they are
 * answered once it is back.
 */
const instance = `p${randomBytes(3).toString("hex")}`;
const local: Dockerode = localDocker();
let second: DockerHost;
let system: E2eSystem;

function chat(u: number): string[] {
  return system.sim.messagesTo(10_000 + u, "telegram").map((m) => m.text);
}

async function hostOf(docker: Dockerode): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`cloudclaude.instance=${instance}`] },
  });
  return list.map((c) => c.Labels["cloudclaude.agent"] ?? "");
}

beforeAll(async () => {
  const image = await ensureTestImage(local);
  second = await startDockerHost("cc-pool-e2e");
  await copyImage(local, second.docker, image);
  system = await E2eSystem.start({
    CLOUDCLAUDE_RUNTIME: "docker",
    CLOUDCLAUDE_DOCKER_HOSTS: `local=unix:///var/run/docker.sock,second=${second.url}`,
    CLOUDCLAUDE_HOST_CAPACITY: "1",
    CLOUDCLAUDE_AGENT_IMAGE: image,
    CLOUDCLAUDE_AGENT_NETWORK: "none",
    CLOUDCLAUDE_INSTANCE: instance,
    CLAUDE_CODE_EXECUTABLE: "",
  });
}, 600_000);

afterAll(async () => {
  await system?.stop();
  await second?.restart().catch(() => {}); // in case a test left it down
  for (const docker of [local, second?.docker]) if (docker) await removeInstance(docker, instance);
}, 120_000);

describe("a pool of Docker hosts", () => {
  it("places new agents on the host with room, and hosts ls shows both", async () => {
    await system.post(system.message("telegram", "echo on the first host", 1));
    await system.sim.waitFor(
      () => chat(1).some((t) => t.includes("echo: on the first host")),
      60_000,
      "user 1",
    );
    await system.post(system.message("telegram", "echo on the other host", 2));
    await system.sim.waitFor(
      () => chat(2).some((t) => t.includes("echo: on the other host")),
      60_000,
      "user 2",
    );
    const here = await hostOf(local);
    const there = await hostOf(second.docker);
    expect(here).toHaveLength(1);
    expect(there).toHaveLength(1);
    expect(here[0]).not.toBe(there[0]);

    const hosts = await runCli(["hosts", "ls"], system.env);
    expect(hosts.code, hosts.output).toBe(0);
    expect(hosts.output).toMatch(/^local .* up .* 1\/1 awake$/m);
    expect(hosts.output).toMatch(/^second .* up .* 1\/1 awake$/m);
  }, 180_000);

  it("a host that stops answering is reported to its people; their messages are answered when it returns", async () => {
    // Whose switchboard lives there: user 1's or user 2's (ask each; the one on `local` answers at once).
    await second.kill();
    const before = { 1: chat(1).length, 2: chat(2).length };
    await system.post(system.message("telegram", "echo are you there", 1));
    await system.post(system.message("telegram", "echo are you there", 2));
    await system.sim.waitFor(
      () =>
        [1, 2].some((u) =>
          chat(u)
            .slice(before[u as 1 | 2])
            .some((t) => t.includes("is not answering")),
        ),
      60_000,
      "the unavailable notice",
    );
    const stranded = [1, 2].find((u) =>
      chat(u)
        .slice(before[u as 1 | 2])
        .some((t) => t.includes("is not answering")),
    );
    const fine = stranded === 1 ? 2 : 1;
    expect(chat(stranded ?? 0).join("\n")).toMatch(/\(second\) is not answering\. Your message is kept/);
    await system.sim.waitFor(
      () =>
        chat(fine)
          .slice(before[fine])
          .some((t) => t.includes("echo: are you there")),
      30_000,
      "the other host's reply",
    );

    const status = await runCli(["hosts", "ls"], system.env);
    expect(status.output).toMatch(/^second .* NOT ANSWERING/m);

    await second.restart();
    await system.sim.waitFor(
      () =>
        chat(stranded ?? 0)
          .slice(before[(stranded ?? 1) as 1 | 2])
          .some((t) => t.includes("echo: are you there")),
      90_000,
      "the stranded message answered after the host came back",
    );
    // Told once, answered once.
    const after = chat(stranded ?? 0).slice(before[(stranded ?? 1) as 1 | 2]);
    expect(after.filter((t) => t.includes("is not answering"))).toHaveLength(1);
    expect(after.filter((t) => t.includes("echo: are you there"))).toHaveLength(1);
  }, 240_000);
});
