import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type Dockerode from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  demux,
  ensureTestImage,
  localDocker,
  removeInstance,
  startDockerHost,
  type DockerHost as TestHost,
} from "../../test/support/docker.ts";
import { ensureRegistry, REGISTRY_ADDRESS } from "../../test/support/registry.ts";
import { encodeFrame, PROTOCOL_VERSION } from "../agent/protocol.ts";
import { packContext } from "../build/context.ts";
import { DockerRegistry } from "../build/registry.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { dockerClient } from "./docker/connection.ts";
import { authFor, DockerHost } from "./docker/host.ts";
import { followEngineStream } from "./images/engine.ts";
import { VmManager } from "./manager.ts";
import type { AgentSpec } from "./port.ts";
import { VmRecords } from "./records.ts";

/**
 * A project VM runs its project's environment image: pushed to the registry on 127.0.0.1:5000 from the
 * machine's engine, pulled by the VM Manager onto a second `dockerd` that lacks it, recreated on the same
 * volume when the project gets a new image, and a clear error when the image cannot be pulled.
 */
const logger = pino({ level: "silent" });
const instance = `t${randomBytes(3).toString("hex")}`;
const REPO_PREFIX = `${REGISTRY_ADDRESS}/test-vm-image/`;
const repository = `${REPO_PREFIX}${randomBytes(4).toString("hex")}`;
const local = localDocker();
const localTags: string[] = [];
let agentImage: string;
let far: TestHost;
let farDocker: Dockerode;
let opened: OpenedStore;
let scratch: string;
const references: Record<string, string> = {};

/**
 * A project image FROM the test image: its revision in /opt/project (outside the volume) and a README in
 * the workspace (seeded into a fresh volume, as the Build Service's layer does with the clone).
 */
async function buildAndPush(revision: string): Promise<string> {
  const tag = `${repository}:${revision}`;
  const context = await packContext({
    source: scratch,
    extras: {
      Dockerfile: [
        `FROM ${agentImage}`,
        "COPY --chown=1000:1000 revision.txt /opt/project/revision.txt",
        "COPY --chown=1000:1000 workspace /home/agent/workspace",
        "",
      ].join("\n"),
      "revision.txt": revision,
      "workspace/README.md": `seeded by ${revision}\n`,
    },
  });
  try {
    const stream = await local.buildImage(createReadStream(context.file), {
      t: tag,
      networkmode: "none",
      rm: true,
      forcerm: true,
    });
    await followEngineStream(stream, `docker build ${tag}`);
  } finally {
    await context.dispose();
  }
  localTags.push(tag);
  return (await new DockerRegistry(local, REGISTRY_ADDRESS).push(tag)).reference;
}

/** Images of this test (any run) on an engine. */
async function testImages(docker: Dockerode): Promise<string[]> {
  const images = await docker.listImages();
  return images
    .filter((i) => [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])].some((r) => r.startsWith(REPO_PREFIX)))
    .map((i) => i.Id);
}

function farHost(): DockerHost {
  return new DockerHost({
    name: "far",
    docker: farDocker,
    settings: {
      instance,
      image: agentImage, // not on that engine: only the agents' own images are
      network: "none",
      limits: {
        memoryBytes: 256 * 1024 * 1024,
        nanoCpus: 500_000_000,
        pids: 128,
        tmpBytes: 64 * 1024 * 1024,
      },
    },
    logger,
  });
}

function manager(host: DockerHost): VmManager {
  return new VmManager({
    records: new VmRecords(opened.handle.db),
    hosts: [host],
    capacityPerHost: 10,
    logger,
  });
}

function spec(name: string, image: string): AgentSpec {
  return {
    name,
    kind: "project",
    env: { ANTHROPIC_API_KEY: "sk-ant-test" },
    labels: { "cloudclaude.user": "u1" },
    image,
  };
}

/** Says hello over a fresh bridge and runs one turn; resolves with the fake Claude Code's answer. */
async function ask(m: VmManager, name: string, text: string): Promise<string> {
  const bridge = await m.openBridge(name);
  const lines = createInterface({ input: bridge.stdout });
  const turnId = `turn-${randomBytes(4).toString("hex")}`;
  bridge.stdin.write(encodeFrame({ type: "hello", protocol: PROTOCOL_VERSION, resumeFrom: 0 }));
  try {
    for await (const line of lines) {
      const frame = JSON.parse(line) as { type: string; turnId?: string; text?: string; message?: string };
      if (frame.type === "welcome") {
        bridge.stdin.write(
          encodeFrame({
            type: "turn",
            turnId,
            conversation: "chat-image",
            attempt: 1,
            sessionId: null,
            text,
            sender: { id: "u1" },
          }),
        );
      } else if (frame.turnId === turnId && frame.type === "turn_finished") {
        return frame.text ?? "";
      } else if (frame.turnId === turnId && frame.type === "turn_failed") {
        throw new Error(`turn failed: ${frame.message}`);
      }
    }
    throw new Error("bridge closed before the turn ended");
  } finally {
    bridge.close();
  }
}

/** Runs a command in the agent's container as the agent's user; resolves with its stdout. */
async function execIn(host: DockerHost, agent: string, cmd: string[]): Promise<string> {
  const exec = await host.docker.getContainer(host.containerName(agent)).exec({
    Cmd: cmd,
    User: "1000:1000",
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const { stdout, stderr } = demux(Buffer.concat(chunks));
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${ExitCode}: ${stderr}`);
  return stdout;
}

beforeAll(async () => {
  agentImage = await ensureTestImage(local);
  await ensureRegistry();
  scratch = await mkdtemp(path.join(tmpdir(), "cc-vm-image-"));
  far = await startDockerHost("cc-vm-image");
  farDocker = dockerClient({ name: "far", url: far.url });
  // The host must lack the project images: drop what an earlier run left there.
  for (const id of await testImages(farDocker)) await farDocker.getImage(id).remove({ force: true });
  references.r1 = await buildAndPush("r1");
  references.r2 = await buildAndPush("r2");
  opened = await openStore({ kind: "sqlite", path: path.join(scratch, "db.sqlite") });
}, 600_000);

afterAll(async () => {
  if (farDocker) {
    await removeInstance(farDocker, instance);
    for (const id of await testImages(farDocker)) await farDocker.getImage(id).remove({ force: true });
  }
  for (const tag of localTags) {
    await local
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
  }
  await opened?.store.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 120_000);

describe("project VMs on their own environment image", () => {
  it("pulls the project's image onto a host that lacks it, runs it, and its bridge answers", async () => {
    const host = farHost();
    const r1 = references.r1 as string;
    expect(r1).toMatch(/^127\.0\.0\.1:5000\/test-vm-image\/[0-9a-f]{8}@sha256:[0-9a-f]{64}$/);
    expect(await host.hasImage(r1)).toBe(false);
    const m = manager(host);
    const started = Date.now();
    await m.ensureRunning(spec("vm-image", r1));
    console.log(`pull and start on the second engine: ${Date.now() - started} ms`);

    expect(await host.hasImage(r1)).toBe(true);
    expect(await m.inspect("vm-image")).toMatchObject({ state: "running", host: "far" });
    const info = await farDocker.getContainer(host.containerName("vm-image")).inspect();
    expect(info.Config.Image).toBe(r1);
    expect(info.Config.User).toBe("1000:1000");
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    // The daemon inside answers a turn (fake Claude Code): the image's own file, and the workspace it seeded.
    expect(await ask(m, "vm-image", "cat /opt/project/revision.txt")).toBe(
      "cat /opt/project/revision.txt:\nr1",
    );
    expect(await ask(m, "vm-image", "cat README.md")).toBe("cat README.md:\nseeded by r1\n");
  }, 300_000);

  it("a stopped VM whose project got a new image is recreated from it on its next start; the volume stays", async () => {
    const host = farHost();
    const m = manager(host);
    const r2 = references.r2 as string;
    await m.ensureRunning(spec("vm-renew", references.r1 as string));
    await execIn(host, "vm-renew", [
      "/usr/local/bin/node",
      "-e",
      "require('node:fs').writeFileSync('/home/agent/workspace/notes.txt', 'written under r1\\n')",
    ]);
    const before = await farDocker.getContainer(host.containerName("vm-renew")).inspect();

    // Running: left alone although the image changed.
    await m.ensureRunning(spec("vm-renew", r2));
    expect((await farDocker.getContainer(host.containerName("vm-renew")).inspect()).Id).toBe(before.Id);

    await m.stop("vm-renew");
    await m.ensureRunning(spec("vm-renew", r2));
    const after = await farDocker.getContainer(host.containerName("vm-renew")).inspect();
    expect(after.Id).not.toBe(before.Id);
    expect(after.Config.Image).toBe(r2);
    expect(after.Mounts.map((x) => x.Name)).toEqual([host.volumeName("vm-renew")]);
    expect(await m.inspect("vm-renew")).toMatchObject({ state: "running" });
    expect(await ask(m, "vm-renew", "cat /opt/project/revision.txt")).toBe(
      "cat /opt/project/revision.txt:\nr2",
    );
    // The volume is the one of before: what was written survives, and the new image did not re-seed it.
    expect(await ask(m, "vm-renew", "cat notes.txt")).toBe("cat notes.txt:\nwritten under r1\n");
    expect(await ask(m, "vm-renew", "cat README.md")).toBe("cat README.md:\nseeded by r1\n");
    const ls = await ask(m, "vm-renew", "ls");
    expect(ls.startsWith("ls .: ")).toBe(true);
    expect(ls.slice("ls .: ".length).split(" ")).toEqual(expect.arrayContaining(["README.md", "notes.txt"]));
  }, 300_000);

  it("an image the registry does not have: a clear pull error, no container, the host still up", async () => {
    const host = farHost();
    const m = manager(host);
    const missing = `${repository}@sha256:${"0".repeat(64)}`;
    const escaped = missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await expect(m.ensureRunning(spec("vm-image-missing", missing))).rejects.toThrow(
      new RegExp(
        `^could not pull ${escaped} on Docker host far: .*manifest unknown; is the registry reachable from that host\\?$`,
      ),
    );
    expect(await host.inspect("vm-image-missing")).toBeUndefined();
    expect(await m.inspect("vm-image-missing")).toMatchObject({ state: "error" });
    expect(m.isHostUp("far")).toBe(true);
  }, 120_000);

  it("the registry login goes only with images of that registry", () => {
    const auth = { username: "cc", password: "secret", serveraddress: "https://registry.example.com:5000/" };
    expect(authFor("registry.example.com:5000/u/p@sha256:abc", auth)).toBe(auth);
    expect(authFor("127.0.0.1:5000/u/p:r1", auth)).toBeUndefined();
    expect(authFor("registry.example.com/u/p:r1", auth)).toBeUndefined(); // another port, another registry
    expect(authFor("u/p:r1", auth)).toBeUndefined(); // Docker Hub
    const hub = { ...auth, serveraddress: "https://index.docker.io/v1/" };
    expect(authFor("u/p:r1", hub)).toBe(hub);
    expect(authFor("plain:tag", hub)).toBe(hub);
  });
});
