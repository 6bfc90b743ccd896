import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.ts";
import { createOutbox } from "../delivery/outbox.ts";
import { createInbox } from "../inbox/index.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { ProcessRuntime } from "../vm/process-runtime.ts";
import { RouterContext } from "./context.ts";
import { runSwitchboardTool } from "./switchboard-tools.ts";
import { type TurnRecord, TurnStore } from "./turn-store.ts";

/**
 * The control plane's side of the switchboard tools, on a real SQLite store. A router that restarts
 * re-reads the agent's events from its last saved cursor, so the same call (same agent, same call id) can
 * arrive twice: it must be answered as the first time and not run again.
 */
describe("switchboard tools run by the control plane", () => {
  let dir: string;
  let opened: OpenedStore;
  let ctx: RouterContext;
  let turn: TurnRecord;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "cc-sbtools-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
    const { handle, store } = opened;
    const logger = pino({ level: "silent" });
    const config = loadConfig({ env: {}, cwd: dir }).config;
    const turns = new TurnStore(handle.db);
    ctx = new RouterContext({
      inbox: createInbox(handle, { maxAttempts: 3, retentionMs: 60_000 }),
      store,
      turns,
      outbox: createOutbox(handle),
      // Never started here: these tools touch no agent.
      runtime: new ProcessRuntime({ root: path.join(dir, "agents"), cli: "/nonexistent", logger }),
      agents: config.agents,
      logger,
      kickDelivery: () => {},
    });
    const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "41" });
    turn = await turns.create({
      id: "t1",
      conversationKey: "telegram:41",
      agent: `sb-${user.id}`,
      userId: user.id,
      itemIds: [1],
      reply: {
        platform: "telegram",
        reply: { platform: "telegram", chatId: 41 },
        inboundReceivedAt: 0,
        language: "en",
      },
    });
  });

  afterAll(async () => {
    await opened.store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers a replayed call as the first time, without running it again", async () => {
    const first = await runSwitchboardTool(ctx, turn, "create_project", { name: "shop" }, "toolu_a");
    expect(first.ok).toBe(true);
    expect(JSON.parse(first.output)).toMatchObject({ created: "shop" });

    // The same call again (a replay): the same answer, not "a project named shop exists already".
    expect(await runSwitchboardTool(ctx, turn, "create_project", { name: "shop" }, "toolu_a")).toEqual(first);
    expect((await opened.store.projects.list()).map((p) => p.name)).toEqual(["shop"]);

    // A new call with the same input is a new request, and refused as one.
    const again = await runSwitchboardTool(ctx, turn, "create_project", { name: "shop" }, "toolu_b");
    expect(again.ok).toBe(false);
    expect(JSON.parse(again.output).error).toContain("A project named shop exists already");
  });

  it("refuses bad input with the schema's reason and changes nothing", async () => {
    const bad = await runSwitchboardTool(ctx, turn, "create_project", { name: 42 }, "toolu_c");
    expect(bad.ok).toBe(false);
    expect(JSON.parse(bad.output).error).toMatch(/name/);
    const unknown = await runSwitchboardTool(ctx, turn, "format_disk", {}, "toolu_d");
    expect(JSON.parse(unknown.output).error).toBe("unknown switchboard tool: format_disk");
    expect(await opened.store.projects.list()).toHaveLength(1);
  });
});
