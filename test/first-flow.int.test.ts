import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DockerHost,
  ensureTestImage,
  localDocker,
  removeImages,
  removeInstance,
  startDockerHost,
} from "./support/docker.ts";
import { E2eSystem } from "./support/e2e.ts";
import { type GitServer, startGitServer } from "./support/git-server.ts";
import { ensureRegistry, REGISTRY_ADDRESS } from "./support/registry.ts";
import {
  groupChat,
  TELEGRAM_TEST_BOT_USERNAME,
  telegramRequest,
  telegramTextUpdate,
  telegramUser,
} from "./support/webhooks/telegram.ts";

/**
 * The seed's first flow, "new user, no VM yet", end to end on the real executable: a person asks their
 * switchboard (the fake Claude Code calling the real switchboard tools) to create a project from a repo on
 * a local git server; its environment is built on this machine's engine from the repo's Dockerfile and
 * pushed to Debian's docker-registry on 127.0.0.1:5000; the group the person binds is answered by Claude
 * Code in a VM on a second `dockerd`, which pulled the image from that registry and holds the clone as its
 * working tree. Then a broken Dockerfile (its log reaches the chat, nothing half-built is left, the
 * switchboard's fix builds), the VM management flow from chat and from the CLI, members, a crash of the
 * server in the middle of a build, and deleting a project that chats are bound to.
 */
const instance = `f${randomBytes(3).toString("hex")}`;
const TOKEN = `ghp_${randomBytes(18).toString("hex")}`;
const local: Dockerode = localDocker();
let second: DockerHost;
let git: GitServer;
let image: string;
let system: E2eSystem;
/** Telegram user 1's user id, read off the demo VM's labels: scopes image checks and clean-up to this run. */
let owner = "";
const team = groupChat({ title: "Team" });

const tg = (user: number) => 10_000 + user;
const texts = (chat: number) => system.sim.messagesTo(chat, "telegram").map((m) => m.text);
const dm = (user: number, text: string) => system.post(system.message("telegram", text, user));
const inGroup = (user: number, text: string) =>
  system.post({
    platform: "telegram",
    path: "/webhooks/telegram",
    ...telegramRequest(telegramTextUpdate({ text, from: telegramUser({ id: tg(user) }), chat: team })),
    eventId: "",
    conversationKey: "",
  });
/** Waits for a message to `chat` after the first `from` ones that `match`es; returns it. */
async function waitFor(
  chat: number,
  match: (text: string) => boolean,
  from = 0,
  timeoutMs = 60_000,
): Promise<string> {
  let found: string | undefined;
  await system.sim.waitFor(
    () => {
      found = texts(chat).slice(from).find(match);
      return found !== undefined;
    },
    timeoutMs,
    `a message to ${chat} (got ${JSON.stringify(texts(chat).slice(from))}; server: ${system.server.output().slice(-3000)})`,
  );
  return found ?? "";
}
const tool = (name: string, input: Record<string, unknown>) => `tool ${name} ${JSON.stringify(input)}`;

async function containersOf(docker: Dockerode): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`cloudclaude.instance=${instance}`] } });
}

beforeAll(async () => {
  image = await ensureTestImage(local);
  second = await startDockerHost("cc-first-flow");
  await ensureRegistry();
  git = await startGitServer(TOKEN);
  git.createRepo("public", "demo", {
    "README.md": "# demo\nhello from the demo repository\n",
    Dockerfile: `FROM ${image}\nUSER root\nRUN echo demo-environment > /opt/demo-env.txt\n`,
  });
  git.createRepo("public", "broken", {
    "README.md": "# broken\n",
    Dockerfile: `FROM ${image}\nUSER root\nRUN echo compiling the broken project && exit 3\n`,
  });
  git.createRepo("public", "slow", {
    // This run's own step (no build cache from an earlier run), so the build is under way when it is killed.
    Dockerfile: `FROM ${image}\nUSER root\nRUN sleep 6 && echo slow-${instance} > /opt/slow.txt\n`,
  });
  system = await E2eSystem.start({
    CLOUDCLAUDE_RUNTIME: "docker",
    CLOUDCLAUDE_DOCKER_HOSTS: `local=unix:///var/run/docker.sock,second=${second.url}`,
    // Two per host: the switchboard lands here first, the project VM then on the emptier second host.
    CLOUDCLAUDE_HOST_CAPACITY: "2",
    CLOUDCLAUDE_AGENT_IMAGE: image,
    CLOUDCLAUDE_AGENT_NETWORK: "none",
    CLOUDCLAUDE_INSTANCE: instance,
    CLOUDCLAUDE_REGISTRY: REGISTRY_ADDRESS,
    CLOUDCLAUDE_BUILD_HOST: "local",
    CLOUDCLAUDE_BUILD_NETWORK: "none",
    CLAUDE_CODE_EXECUTABLE: "",
  });
  system.secrets.add(TOKEN);
}, 600_000);

afterAll(async () => {
  await system?.stop();
  await git?.close();
  for (const docker of [local, second?.docker]) {
    if (!docker) continue;
    await removeInstance(docker, instance);
    // Environment images this run built: the engines' data roots outlive it, earlier runs' images must not
    // pile up there nor be taken for this run's.
    if (owner) await removeImages(docker, `cloudclaude.user=${owner}`);
  }
}, 120_000);

describe("from chat to a running project", () => {
  it("DM the switchboard → project → image built and pushed → VM on the second host → the bound group is answered in the clone", async () => {
    const repo = `${git.url}/public/demo.git`;
    await dm(1, tool("create_project", { name: "demo", repo, branch: "main" }));
    expect(await waitFor(tg(1), (t) => t.includes("create_project:"))).toContain('"created":"demo"');
    // Before its environment is built its VM is not started: it would hold no clone, for good.
    const early = texts(tg(1)).length;
    await dm(1, tool("start_vm", { project: "demo" }));
    expect(await waitFor(tg(1), (t) => t.includes("start_vm failed:"), early)).toContain(
      "demo has no environment yet",
    );

    const before = texts(tg(1)).length;
    await dm(1, tool("build_environment", { project: "demo" }));
    expect(await waitFor(tg(1), (t) => t.includes("build_environment:"), before)).toContain(
      '"status":"queued"',
    );
    await waitFor(tg(1), (t) => t.includes("Building the environment of demo"), before);
    await waitFor(tg(1), (t) => /demo: step 1\/\d+/.test(t), before);
    const ready = await waitFor(
      tg(1),
      (t) => t.includes("The environment of demo is ready"),
      before,
      240_000,
    );
    expect(ready).toMatch(/revision [0-9a-f]{12}/);
    expect(
      texts(tg(1))
        .slice(before)
        .some((t) => t.includes("failed")),
    ).toBe(false);

    // The person writes in their group once (so CloudClaude knows the group), then binds it from the DM.
    await inGroup(1, `@${TELEGRAM_TEST_BOT_USERNAME} echo hello team`);
    await waitFor(team.id, (t) => t.includes("echo: hello team"));
    const mark = texts(tg(1)).length;
    await dm(1, tool("bind_conversation", { project: "demo", conversation: "Team" }));
    expect(await waitFor(tg(1), (t) => t.includes("bind_conversation:"), mark)).toContain('"bound":"Team"');
    await waitFor(team.id, (t) => t.includes("bound this chat to the project demo"));

    // The group's next message is Claude Code in the VM, whose working tree is the clone.
    await inGroup(1, "cat README.md");
    expect(await waitFor(team.id, (t) => t.startsWith("cat README.md:"), 0, 120_000)).toContain(
      "hello from the demo repository",
    );
    await inGroup(1, "ls");
    expect(await waitFor(team.id, (t) => t.startsWith("ls .:"))).toMatch(/\.git .*README\.md/);
    await inGroup(1, "cat /opt/demo-env.txt");
    expect(await waitFor(team.id, (t) => t.startsWith("cat /opt/demo-env.txt:"))).toContain(
      "demo-environment",
    );

    // Where everything is: the switchboard here, the VM on the second host, from the registry's image.
    const vm = (await containersOf(second.docker)).find((c) => c.Labels["cloudclaude.kind"] === "project");
    owner = vm?.Labels["cloudclaude.user"] ?? "";
    expect(owner).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm?.Image).toMatch(
      new RegExp(`^${REGISTRY_ADDRESS.replace(".", "\\.")}/.+/demo@sha256:[0-9a-f]{64}$`),
    );
    expect((await containersOf(local)).map((c) => c.Labels["cloudclaude.kind"])).toEqual(["switchboard"]);
    const listed = await system.cli(["projects", "ls"]);
    expect(listed.output).toMatch(/^demo .* env=[0-9a-f]{12} .*bound=telegram:-/m);
  }, 600_000);

  it("a broken Dockerfile: the failure and its log reach the chat, nothing is left, the switchboard's fix builds", async () => {
    const before = texts(tg(1)).length;
    await dm(1, `/projects new broken ${git.url}/public/broken.git`);
    await waitFor(tg(1), (t) => t.includes("Created the project broken"), before);
    await dm(1, "/build broken");
    const failed = await waitFor(tg(1), (t) => t.includes("The build of broken failed"), before, 180_000);
    expect(failed).toContain("compiling the broken project"); // the RUN's own output, from the log tail
    expect(failed).toMatch(/returned a non-zero code: 3/);
    expect(failed).toContain("Tell me to fix the Dockerfile");
    expect(
      texts(tg(1))
        .slice(before)
        .some((t) => t.includes("broken is ready")),
    ).toBe(false);
    // No image, no VM, no environment recorded.
    for (const docker of [local, second.docker]) {
      const label = ["cloudclaude.project=broken", `cloudclaude.user=${owner}`];
      const images = await docker.listImages({ filters: { label } });
      expect(images).toEqual([]);
    }
    const all = [...(await containersOf(local)), ...(await containersOf(second.docker))];
    expect(all.filter((c) => c.Labels["cloudclaude.kind"] === "project")).toHaveLength(1); // demo's only
    expect((await system.cli(["projects", "ls"])).output).toMatch(/^broken .* env=none/m);

    // The switchboard reads the failure and builds a fixed Dockerfile.
    const mark = texts(tg(1)).length;
    await dm(1, tool("build_status", { project: "broken" }));
    const status = await waitFor(tg(1), (t) => t.includes("build_status:"), mark);
    expect(status).toContain('"status":"failed"');
    expect(status).toContain("exit 3");
    await dm(1, tool("build_environment", { project: "broken", dockerfile: `FROM ${image}\n` }));
    await waitFor(tg(1), (t) => t.includes("The environment of broken is ready"), mark, 180_000);
  }, 400_000);

  it("the VM management flow from chat and from the CLI; members", async () => {
    let mark = texts(team.id).length;
    await inGroup(1, "/vm status");
    expect(await waitFor(team.id, (t) => t.startsWith("VM of demo"), mark)).toMatch(/running.*Host: second/);
    await inGroup(1, "/vm stop");
    await waitFor(team.id, (t) => t.includes("The VM of demo is stopped"), mark);
    expect((await system.cli(["vm", "ls"])).output).toMatch(/ demo {2}stopped \(manual\) {2}host=second/);
    await inGroup(1, "echo are you awake");
    await waitFor(team.id, (t) => t.includes("echo: are you awake"), mark, 90_000);

    // The switchboard's tools do the same.
    let dmMark = texts(tg(1)).length;
    await dm(1, tool("stop_vm", { project: "demo" }));
    expect(await waitFor(tg(1), (t) => t.includes("stop_vm:"), dmMark)).toContain('"stopped":"demo"');
    await dm(1, tool("vm_status", { project: "demo" }));
    expect(await waitFor(tg(1), (t) => t.includes("vm_status:"), dmMark)).toContain('"state":"stopped"');
    await system.cli(["vm", "start", "demo"]);
    dmMark = texts(tg(1)).length;
    await dm(1, tool("vm_status", { project: "demo" }));
    expect(await waitFor(tg(1), (t) => t.includes("vm_status:"), dmMark)).toContain('"state":"running"');

    // Someone else in the group is not a member: refused, until the owner adds them.
    mark = texts(team.id).length;
    await inGroup(2, `@${TELEGRAM_TEST_BOT_USERNAME} echo let me in`);
    await waitFor(team.id, (t) => t.includes("which you are not a member of"), mark);
    dmMark = texts(tg(1)).length;
    await dm(1, tool("add_member", { project: "demo", person: `telegram:${tg(2)}` }));
    expect(await waitFor(tg(1), (t) => t.includes("add_member:"), dmMark)).toContain('"added"');
    await inGroup(2, "echo now a member");
    await waitFor(team.id, (t) => t.includes("echo: now a member"), mark, 60_000);
    // A member may talk to the VM but not stop it.
    await inGroup(2, "/vm stop");
    await waitFor(team.id, (t) => t.includes("Only the owner of demo can do that"), mark);
    const members = await system.cli(["projects", "members", "demo"]);
    expect(members.output).toContain(`telegram:${tg(2)}`);
  }, 300_000);

  it("a server killed in the middle of a build: after the restart it is built once and told once", async () => {
    const before = texts(tg(1)).length;
    await dm(1, `/projects new slow ${git.url}/public/slow.git`);
    await waitFor(tg(1), (t) => t.includes("Created the project slow"), before);
    await dm(1, "/build slow");
    await waitFor(tg(1), (t) => /slow: step \d+\/\d+: RUN sleep/.test(t), before, 120_000);
    await system.crashAndRestart();
    await waitFor(tg(1), (t) => t.includes("The environment of slow is ready"), before, 240_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const after = texts(tg(1)).slice(before);
    expect(after.filter((t) => t.includes("The environment of slow is ready"))).toHaveLength(1);
    expect(after.filter((t) => t.includes("Building the environment of slow"))).toHaveLength(1);
    expect(after.some((t) => t.includes("The build of slow was interrupted"))).toBe(true);
  }, 400_000);

  it("deleting a project with a bound group: confirmed in chat, the group is told and goes back to the switchboards", async () => {
    const mark = texts(tg(1)).length;
    const groupMark = texts(team.id).length;
    await dm(1, tool("delete_vm", { project: "demo", confirm: "demo", delete_project: true }));
    // Deleting needs the person's approval in chat.
    const ask = await waitFor(tg(1), (t) => t.includes("Claude wants to use"), mark);
    expect(ask).toContain("Claude wants to use delete_vm:");
    await dm(1, "/approve");
    expect(await waitFor(tg(1), (t) => t.startsWith("delete_vm:"), mark, 60_000)).toContain(
      '"projectDeleted":true',
    );
    await waitFor(team.id, (t) => t.includes("The project demo was deleted"), groupMark);
    // Its environment images are gone from the build host (this engine).
    const label = ["cloudclaude.project=demo", `cloudclaude.user=${owner}`];
    expect(await local.listImages({ filters: { label } })).toEqual([]);
    expect(
      (await containersOf(second.docker)).filter((c) => c.Labels["cloudclaude.kind"] === "project"),
    ).toEqual([]);
    // The group is the switchboards' again: an addressed message is answered by the sender's switchboard.
    await inGroup(1, `@${TELEGRAM_TEST_BOT_USERNAME} echo back to the switchboard`);
    await waitFor(team.id, (t) => t.includes("echo: back to the switchboard"), groupMark);
    expect((await system.cli(["projects", "ls"])).output).not.toMatch(/^demo /m);
  }, 300_000);
});
