import { execFile } from "node:child_process";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyImage,
  type DockerHost,
  ensureTestImage,
  hardenedHostConfig,
  localDocker,
  runOnce,
  startDockerHost,
} from "../../../test/support/docker.ts";
import { buildImages, CLAUDE_BINARY_LABEL, daemonCommand, FAKE_CLAUDE_PATH, IMAGE_LABEL } from "./index.ts";

const docker = localDocker();
const volume = `cc-images-test-${process.pid}`;
let image: string;
let second: DockerHost | undefined;

beforeAll(async () => {
  image = await ensureTestImage(docker); // a cold build takes about a minute; later ones seconds
  await docker.createVolume({ Name: volume });
}, 600_000);

afterAll(async () => {
  await docker
    .getVolume(volume)
    .remove()
    .catch(() => {});
  await second?.stop();
});

describe("offline agent image", () => {
  it("is idempotent: a second build finds every tag and builds nothing", async () => {
    const started = Date.now();
    const again = await buildImages(docker, { offline: true, test: true });
    expect(again).toMatchObject({ agent: image, latest: "cloudclaude-agent-test:latest", built: false });
    expect(again.base).toMatch(/^cloudclaude-base:[0-9a-f]{12}$/);
    expect(Date.now() - started).toBeLessThan(15_000);

    const info = await docker.getImage(image).inspect();
    expect((await docker.getImage(again.latest).inspect()).Id).toBe(info.Id);
    expect(info.Config.User).toBe("1000:1000");
    expect(info.Config.WorkingDir).toBe("/home/agent");
    expect(info.Config.Cmd).toEqual(daemonCommand("switchboard"));
    expect(info.Config.Env).toContain(`CLAUDE_CODE_EXECUTABLE=${FAKE_CLAUDE_PATH}`);
    expect(info.Config.Labels?.[IMAGE_LABEL]).toBe("agent-test");
    // The test variant's base goes without the real Claude Code binary (~400 MB) and says so.
    const base = await docker.getImage(again.base).inspect();
    expect(base.Config.Labels).toMatchObject({ [IMAGE_LABEL]: "base", [CLAUDE_BINARY_LABEL]: "no" });
    expect((await docker.getImage("cloudclaude-base:latest-no-claude").inspect()).Id).toBe(base.Id);
  });

  it("runs with the runtime's hardening: read-only root, no capabilities, no network, volume home", async () => {
    const script = [
      "node --version",
      "cloudclaude agent --help",
      "git --version",
      "echo uid=$(id -u) gid=$(id -g) home=$HOME pwd=$(pwd)",
      'test -f "$CLAUDE_CODE_EXECUTABLE" && echo fake-present',
      "touch /home/agent/probe && echo home-writable",
      "touch /tmp/probe && echo tmp-writable",
      "(touch /opt/cloudclaude/probe 2>/dev/null && echo root-writable) || echo root-read-only",
      "git init -q /home/agent/repo && git -C /home/agent/repo status --short && echo git-init-ok",
    ].join("; ");
    const result = await runOnce(docker, image, ["/bin/sh", "-c", script], hardenedHostConfig(volume));
    expect(result.stderr).toBe("");
    const lines = result.stdout.split("\n");
    expect(lines[0]).toBe(process.version); // the host's Node.js, copied in
    expect(lines[1]).toBe("Usage: cloudclaude agent daemon|bridge [options]   (--help on each for details)");
    expect(lines[2]).toMatch(/^git version \d+\.\d+/);
    expect(lines.slice(3)).toEqual([
      "uid=1000 gid=1000 home=/home/agent pwd=/home/agent",
      "fake-present",
      "home-writable",
      "tmp-writable",
      "root-read-only",
      "git-init-ok",
      "",
    ]);
    expect(result.exitCode).toBe(0);
  });

  it("serves a turn: the daemon as the container's command, the bridge through exec, fake Claude Code", async () => {
    const container = await docker.createContainer({
      Image: image,
      name: `cc-images-daemon-${process.pid}`,
      HostConfig: hardenedHostConfig(volume),
    });
    try {
      await container.start();
      const exec = await container.exec({
        Cmd: ["cloudclaude", "agent", "bridge", "--home", "/home/agent", "--wait", "15000"],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({ hijack: true, stdin: true });
      const stdout = new PassThrough();
      docker.modem.demuxStream(stream, stdout, new PassThrough());
      const frames: Array<Record<string, unknown>> = [];
      const finished = new Promise<Record<string, unknown>>((resolve) => {
        createInterface({ input: stdout }).on("line", (line) => {
          const frame = JSON.parse(line) as Record<string, unknown>;
          frames.push(frame);
          if (frame.type === "turn_finished" || frame.type === "turn_failed") resolve(frame);
        });
      });
      const send = (frame: object) => stream.write(`${JSON.stringify(frame)}\n`);
      send({ type: "hello", protocol: 1, resumeFrom: 0 });
      send({
        type: "turn",
        turnId: "t-image",
        conversation: "c-image",
        attempt: 1,
        sessionId: null,
        text: "echo from the image",
        sender: { id: "u1", name: "Tester" },
      });
      const end = await finished;
      stream.end();
      expect(frames[0]).toMatchObject({ type: "welcome", protocol: 1, kind: "switchboard" });
      expect(end).toMatchObject({ type: "turn_finished", text: "echo: from the image", isError: false });
    } finally {
      await container.remove({ force: true });
    }
  });

  it("runs on a second Docker host after copyImage (which then finds it there)", async () => {
    second = await startDockerHost("images-int");
    await copyImage(docker, second.docker, image);
    expect(await copyImage(docker, second.docker, image)).toBe(false);
    const result = await runOnce(second.docker, image, ["node", "--version"]);
    expect(result).toEqual({ exitCode: 0, stdout: `${process.version}\n`, stderr: "" });
  }, 240_000);
});

describe("cloudclaude images", () => {
  const cli = fileURLToPath(new URL("../../../bin/cloudclaude.js", import.meta.url));
  const run = promisify(execFile);

  it("build --offline --test prints the tags; ls lists them by label", async () => {
    const built = await run(process.execPath, [cli, "images", "build", "--offline", "--test"]);
    const agent = /^agent {2}(cloudclaude-agent-test:[0-9a-f]{12})$/m.exec(built.stdout)?.[1];
    expect(agent, built.stdout).toBeDefined();
    expect(built.stdout).toMatch(/^base {3}cloudclaude-base:[0-9a-f]{12}$/m);
    expect(built.stdout).toMatch(/^(up to date \(nothing to build\)|built in [\d.]+s)$/m);
    expect(built.stderr).toMatch(/collect host files/);

    const listed = await run(process.execPath, [cli, "images", "ls"]);
    expect(listed.stdout).toMatch(new RegExp(`^${agent}\\s+agent-test\\s+[0-9a-f]{12}\\s+\\d+ MB`, "m"));
    // The test variant has no real Claude Code binary, so its base is `:latest-no-claude` (never `:latest`).
    expect(listed.stdout).toMatch(/^cloudclaude-base:latest-no-claude\s+base\s/m);
  }, 120_000);
});
