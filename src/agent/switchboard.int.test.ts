import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BridgeClient,
  type DaemonProcess,
  startDaemon,
  stopDaemon,
  tempHome,
  turnFrame,
  waitForDaemon,
} from "../../test/support/fake-claude/agent-harness.ts";
import type { AgentEvent } from "./protocol.ts";
import { qualifiedToolName } from "./switchboard-tools.ts";

type ToolCall = Extract<AgentEvent, { type: "tool_call" }>;

const home = tempHome();
let daemon: DaemonProcess;
let bridge: BridgeClient;

beforeAll(async () => {
  daemon = startDaemon({ home, kind: "switchboard", env: { CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: "1500" } });
  await waitForDaemon(daemon);
  bridge = await BridgeClient.attach(home);
});

afterAll(async () => {
  await bridge?.close();
  await stopDaemon(daemon);
});

function callOf(turnId: string): Promise<ToolCall> {
  return bridge.waitFor((f): f is ToolCall => f.type === "tool_call" && f.turnId === turnId);
}

describe("switchboard kind", () => {
  it("welcomes as a switchboard", () => {
    expect(bridge.frames[0]).toMatchObject({ type: "welcome", kind: "switchboard", protocol: 1 });
  });

  it("routes a switchboard tool call to the router and answers with its result", async () => {
    const frame = turnFrame("sb-chat", "tool account_status");
    bridge.send(frame);
    const call = await callOf(frame.turnId);
    expect(call).toMatchObject({ name: "account_status", input: {} });
    bridge.send({
      type: "tool_result",
      callId: call.callId,
      ok: true,
      output: "alice, 2 projects, API key set",
    });
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", isError: false });
    if (end.type !== "turn_finished") throw new Error("unreachable");
    expect(end.text).toContain("alice, 2 projects, API key set");
    const events = bridge.turnEvents(frame.turnId);
    // Catalogued as needing no approval, so Claude Code never asks.
    expect(events.some((e) => e.type === "permission_request")).toBe(false);
    expect(events.find((e) => e.type === "tool_use")).toMatchObject({
      name: qualifiedToolName("account_status"),
    });
  });

  it("passes a failed tool result on as a tool error", async () => {
    const frame = turnFrame("sb-chat-2", "tool account_status");
    bridge.send(frame);
    const call = await callOf(frame.turnId);
    bridge.send({ type: "tool_result", callId: call.callId, ok: false, output: "control plane unavailable" });
    const end = await bridge.ended(frame.turnId);
    if (end.type !== "turn_finished") throw new Error(JSON.stringify(end));
    expect(end.text).toBe("account_status failed: control plane unavailable");
  });

  it("gives Claude Code an error result when the router never answers", async () => {
    const frame = turnFrame("sb-chat-3", "tool account_status");
    bridge.send(frame);
    await callOf(frame.turnId);
    const end = await bridge.ended(frame.turnId);
    if (end.type !== "turn_finished") throw new Error(JSON.stringify(end));
    expect(end.text).toContain("did not answer this tool call in time");
  });

  it("has no built-in tools (tools: [])", async () => {
    const frame = turnFrame("sb-chat-4", "permission ls");
    bridge.send(frame);
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", text: "I have no Bash tool" });
    expect(bridge.turnEvents(frame.turnId).map((e) => e.type)).not.toContain("tool_use");
  });

  it("logs JSON lines only on stderr", () => {
    const lines = daemon
      .output()
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
