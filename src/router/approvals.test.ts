import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mayAllowForChat } from "../agent/switchboard-tools.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import {
  APPROVAL_STATE_TTL_MS,
  allowInConversation,
  clearStandingApprovals,
  hasStandingApproval,
  purgeApprovalState,
} from "./approvals.ts";

describe("standing approvals and approval state", () => {
  let dir: string;
  let opened: OpenedStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "cc-approvals-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cloudclaude.db") });
  });
  afterAll(async () => {
    await opened.store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("A's 'Allow in this chat' never answers B's request in a shared group, and /new clears it", async () => {
    const state = opened.store.transportState;
    const a = { conversationKey: "telegram:-1", userId: "ua", agent: "vm-p1", tool: "Bash" };
    const b = { ...a, userId: "ub" };
    await allowInConversation(state, a);
    expect(await hasStandingApproval(state, a)).toBe(true);
    expect(await hasStandingApproval(state, b)).toBe(false);
    expect(await hasStandingApproval(state, { ...a, agent: "sb-ua" })).toBe(false);
    expect(await hasStandingApproval(state, { ...a, tool: "Write" })).toBe(false);
    await clearStandingApprovals(state, a.conversationKey);
    expect(await hasStandingApproval(state, a)).toBe(false);
  });

  it("never keeps 'Allow in this chat' for a tool that destroys (delete_vm): asked every time", async () => {
    const state = opened.store.transportState;
    const base = { conversationKey: "telegram:2", userId: "ua", agent: "sb-ua" };
    const deletion = { ...base, tool: "mcp__cloudclaude__delete_vm" };
    const stop = { ...base, tool: "mcp__cloudclaude__stop_vm" };
    await allowInConversation(state, deletion);
    await allowInConversation(state, stop);
    expect(await hasStandingApproval(state, deletion)).toBe(false);
    expect(await hasStandingApproval(state, stop)).toBe(true);
    expect(mayAllowForChat("mcp__cloudclaude__delete_vm")).toBe(false);
    expect(mayAllowForChat("delete_vm")).toBe(false);
    expect(mayAllowForChat("Bash")).toBe(true);
  });

  it("purges button tokens and decisions once they are old, and nothing else", async () => {
    const state = opened.store.transportState;
    await state.set("approval-token:old", { requestId: "r1" });
    await state.set("approval-decision:r1", { allow: true });
    await state.set("approval-token:new", { requestId: "r2" });
    await state.set("tool-result:sb-ua:toolu_1", { ok: true, output: "{}" });
    await state.set("verbose:x", true);
    const later = Date.now() + APPROVAL_STATE_TTL_MS + 1_000;
    await opened.handle.db
      .updateTable("transport_state")
      .set({ updated_at: 0 })
      .where("key", "in", [
        "approval-token:old",
        "approval-decision:r1",
        "tool-result:sb-ua:toolu_1",
        "verbose:x",
      ])
      .execute();
    expect(await purgeApprovalState(opened.handle.db, APPROVAL_STATE_TTL_MS, later - 2_000)).toBe(3);
    expect(await state.get("approval-token:old")).toBeUndefined();
    expect(await state.get("approval-decision:r1")).toBeUndefined();
    expect(await state.get("tool-result:sb-ua:toolu_1")).toBeUndefined();
    expect(await state.get("approval-token:new")).toBeDefined();
    expect(await state.get("verbose:x")).toBe(true);
  });
});
