import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { E2eSystem } from "./support/e2e.ts";
import { WEBHOOK_PLATFORMS } from "./support/traffic.ts";

/**
 * The conversation loop end to end, on the real executable: a signed webhook in, the router, the agent
 * daemon with the real Agent SDK over the fake Claude Code CLI, and the reply out at the platform simulator.
 * Then the same under crashes of the router and of the agent daemon.
 */
describe("conversation loop", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start();
  }, 60_000);
  afterAll(() => system.stop());

  it.each(WEBHOOK_PLATFORMS)(
    "%s: a message reaches the switchboard and its answer comes back",
    async (platform) => {
      await system.post(system.message(platform, `echo hello from ${platform}`, 1));
      await system.waitForReply(platform, `echo: hello from ${platform}`);
    },
  );

  it("the same webhook delivered twice is answered once", async () => {
    const req = system.message("telegram", "echo only once please", 2);
    await system.post(req);
    await system.post(req);
    await system.waitForReply("telegram", "echo: only once please");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(system.replies("telegram").filter((t) => t.includes("only once please"))).toHaveLength(1);
  });

  it("two conversations interleaved are each answered in order", async () => {
    for (let i = 1; i <= 3; i++) {
      await system.post(system.message("telegram", `echo A${i}`, 2));
      await system.post(system.message("telegram", `echo B${i}`, 3));
    }
    await system.waitForReply("telegram", "B3");
    await system.waitForReply("telegram", "A3");
    const byChat = (chat: number) =>
      system.sim
        .messagesTo(chat, "telegram")
        .map((m) => m.text)
        .join(" ");
    // Messages that queued during a turn are coalesced into the next turn, so count words, not replies.
    expect(byChat(10_002).match(/A\d/g)).toEqual(["A1", "A2", "A3"]);
    expect(byChat(10_003).match(/B\d/g)).toEqual(["B1", "B2", "B3"]);
  });

  it("a conversation whose transcript is gone starts afresh instead of hanging", async () => {
    await system.post(system.message("telegram", "echo before the loss", 1));
    await system.waitForReply("telegram", "echo: before the loss");
    // As if the volume had been recreated under a stopped agent: the stored session id points at nothing.
    for (const agent of await readdir(path.join(system.dataDir, "agents"))) {
      const home = path.join(system.dataDir, "agents", agent);
      const pid = Number.parseInt(
        await readFile(path.join(home, "agent", "daemon.pid"), "utf8").catch(() => ""),
        10,
      );
      if (pid > 0) process.kill(pid, "SIGKILL");
      await rm(path.join(home, "claude", "projects"), { recursive: true, force: true });
    }
    const before = system.replies("telegram").length;
    await system.post(system.message("telegram", "history", 1));
    // A fresh session has no earlier messages. (A restart that takes over a second is announced first:
    // "Starting your switchboard…"; that is not the answer.)
    const answers = () =>
      system
        .replies("telegram")
        .slice(before)
        .filter((t) => !t.startsWith("Starting your"));
    await system.sim.waitFor(() => answers().length > 0, 20_000, "an answer");
    await new Promise((r) => setTimeout(r, 500)); // nothing more follows
    expect(answers()).toEqual(["0"]);
  }, 40_000);

  it("answers the router's own commands without an agent turn", async () => {
    await system.post(system.message("slack", "/help", 1));
    await system.waitForReply("slack", "/cancel");
  });

  it("a switchboard has no Bash: it says so instead of asking", async () => {
    await system.post(system.message("telegram", "permission ls", 2));
    await system.waitForReply("telegram", "I have no Bash tool");
  });

  it("a conversation bound to a project goes to its VM, whose tool requests wait for /approve", async () => {
    const owner = "telegram:10003";
    const create = await runCli(["projects", "create", "shop", "--owner", owner], system.env);
    expect(create.code, create.output).toBe(0);
    const bind = await runCli(["projects", "bind", "shop", "telegram:10003"], system.env);
    expect(bind.code, bind.output).toBe(0);

    await system.post(system.message("telegram", "permission ls -la", 3));
    await system.sim.waitFor(
      (sim) => sim.messagesTo(10_003, "telegram").some((m) => m.text.includes("/approve")),
      20_000,
      "a permission prompt",
    );
    await system.post(system.message("telegram", "/approve", 3));
    await system.waitForReply("telegram", "ran ls -la");
    expect(system.replies("telegram").join("\n")).toMatch(/Approved by/);
    const agents = await readdir(path.join(system.dataDir, "agents"));
    expect(agents.some((a) => a.startsWith("vm-"))).toBe(true);

    // /deny works the same way, and the VM keeps the conversation's history.
    await system.post(system.message("telegram", "permission rm -rf build", 3));
    await system.sim.waitFor(
      (sim) => sim.messagesTo(10_003, "telegram").filter((m) => m.text.includes("/approve")).length === 2,
      20_000,
      "a second permission prompt",
    );
    await system.post(system.message("telegram", "/deny", 3));
    await system.waitForReply("telegram", "denied");
    await runCli(["projects", "unbind", "telegram:10003"], system.env);
  }, 60_000);
});

describe("conversation loop under crashes", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start();
  }, 60_000);
  afterAll(() => system.stop());

  it("SIGKILL of the router mid-turn: exactly one final reply after restart", async () => {
    await system.post(system.message("telegram", "slow 12", 1));
    // Let the turn get going in the agent, then kill serve (router, ingress, delivery: all of it).
    await new Promise((r) => setTimeout(r, 700));
    await system.crashAndRestart();
    await system.waitForReply("telegram", "word12", 40_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(system.replies("telegram").filter((t) => t.includes("word12"))).toHaveLength(1);
  }, 60_000);

  it("a permission request survives a router crash: /approve after the restart still reaches Claude", async () => {
    const create = await runCli(["projects", "create", "phoenix", "--owner", "telegram:10003"], system.env);
    expect(create.code, create.output).toBe(0);
    await runCli(["projects", "bind", "phoenix", "telegram:10003"], system.env);
    await system.post(system.message("telegram", "permission ls -R", 3));
    await system.sim.waitFor(
      (sim) => sim.messagesTo(10_003, "telegram").some((m) => m.text.includes("/approve")),
      20_000,
      "a permission prompt",
    );
    await system.crashAndRestart();
    await system.post(system.message("telegram", "/approve", 3));
    await system.waitForReply("telegram", "ran ls -R", 40_000);
  }, 60_000);

  it("SIGKILL of the agent daemon mid-turn: the turn is retried and answered once", async () => {
    await system.post(system.message("telegram", "echo warm up", 2));
    await system.waitForReply("telegram", "echo: warm up");
    const agents = await import("node:fs/promises").then((fs) =>
      fs.readdir(path.join(system.dataDir, "agents")),
    );
    const pids = await Promise.all(
      agents.map((a) =>
        readFile(path.join(system.dataDir, "agents", a, "agent", "daemon.pid"), "utf8").catch(() => ""),
      ),
    );
    await system.post(system.message("telegram", "slow 8", 2));
    await new Promise((r) => setTimeout(r, 500));
    for (const pid of pids.map((p) => Number.parseInt(p, 10)).filter((p) => p > 0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // not running
      }
    }
    const eight = Array.from({ length: 8 }, (_, i) => `word${i + 1}`).join(" ");
    // Exactly this reply: the earlier test's "slow 12" answer also contains "word8".
    await system.sim.waitFor(
      () => system.replies("telegram").includes(eight),
      40_000,
      `the retried turn's reply (got ${system.replies("telegram").join(" | ")})`,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(
      system.replies("telegram").filter((t) => t === eight),
      system.replies("telegram").join(" | "),
    ).toHaveLength(1);
  }, 60_000);
});

describe("conversation loop deadlines", () => {
  let system: E2eSystem;
  beforeAll(async () => {
    system = await E2eSystem.start({
      CLOUDCLAUDE_TURN_TIMEOUT_MS: "2000",
      CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: "1500",
    });
  }, 60_000);
  afterAll(() => system.stop());

  it("a turn that runs past its deadline is interrupted and the person told", async () => {
    await system.post(system.message("telegram", "hang", 1));
    await system.waitForReply("telegram", "without finishing, so I stopped it", 20_000);
    // The conversation is free again.
    await system.post(system.message("telegram", "echo after the deadline", 1));
    await system.waitForReply("telegram", "echo: after the deadline");
  }, 40_000);

  it("a permission request nobody answers is denied at its deadline, and the person told", async () => {
    const create = await runCli(["projects", "create", "slowpoke", "--owner", "telegram:10002"], system.env);
    expect(create.code, create.output).toBe(0);
    await runCli(["projects", "bind", "slowpoke", "telegram:10002"], system.env);
    await system.post(system.message("telegram", "permission make deploy", 2));
    await system.waitForReply("telegram", "No answer within 2 s", 20_000);
    await system.waitForReply("telegram", "denied");
  }, 40_000);
});
