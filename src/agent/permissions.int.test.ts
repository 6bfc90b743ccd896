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

type PermissionRequest = Extract<AgentEvent, { type: "permission_request" }>;

const PERMISSION_TIMEOUT_MS = 1_500;
const home = tempHome();
let daemon: DaemonProcess;
let bridge: BridgeClient;

beforeAll(async () => {
  daemon = startDaemon({ home, env: { CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: String(PERMISSION_TIMEOUT_MS) } });
  await waitForDaemon(daemon);
  bridge = await BridgeClient.attach(home);
});

afterAll(async () => {
  await bridge?.close();
  await stopDaemon(daemon);
});

function requestOf(turnId: string): Promise<PermissionRequest> {
  return bridge.waitFor(
    (f): f is PermissionRequest => f.type === "permission_request" && f.turnId === turnId,
  );
}

describe("permissions and interrupts (project kind)", () => {
  it("runs the tool when the chat allows it", async () => {
    const frame = turnFrame("chat-allow", "permission npm test");
    bridge.send(frame);
    const request = await requestOf(frame.turnId);
    expect(request).toMatchObject({
      tool: "Bash",
      input: { command: "npm test" },
      title: "Claude wants to run npm test",
    });
    expect(request.expiresAt).toBeGreaterThan(Date.now());
    expect(request.expiresAt).toBeLessThanOrEqual(Date.now() + PERMISSION_TIMEOUT_MS);
    bridge.send({ type: "permission", requestId: request.requestId, allow: true, by: "alice" });
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", text: "ran npm test", isError: false });
    const types = bridge.turnEvents(frame.turnId).map((e) => e.type);
    expect(types.filter((t) => t !== "text")).toEqual([
      "turn_started",
      "tool_use",
      "permission_request",
      "permission_resolved",
      "turn_finished",
    ]);
    expect(bridge.turnEvents(frame.turnId).find((e) => e.type === "permission_resolved")).toMatchObject({
      requestId: request.requestId,
      allow: true,
      by: "alice",
    });
  });

  it("tells Claude Code no when the chat denies it", async () => {
    const frame = turnFrame("chat-deny", "permission rm -rf /");
    bridge.send(frame);
    const request = await requestOf(frame.turnId);
    bridge.send({
      type: "permission",
      requestId: request.requestId,
      allow: false,
      by: "bob",
      reason: "no way",
    });
    // A repeated answer for the same request changes nothing.
    bridge.send({ type: "permission", requestId: request.requestId, allow: true, by: "bob" });
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", text: "denied" });
    const resolved = bridge.turnEvents(frame.turnId).filter((e) => e.type === "permission_resolved");
    expect(resolved).toEqual([expect.objectContaining({ allow: false, by: "bob" })]);
  });

  it("denies at the deadline when nobody answers", async () => {
    const frame = turnFrame("chat-timeout", "permission make deploy");
    const sent = Date.now();
    bridge.send(frame);
    await requestOf(frame.turnId);
    const end = await bridge.ended(frame.turnId);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(PERMISSION_TIMEOUT_MS);
    expect(end).toMatchObject({ type: "turn_finished", text: "denied" });
    expect(bridge.turnEvents(frame.turnId).find((e) => e.type === "permission_resolved")).toMatchObject({
      allow: false,
      by: "timeout",
    });
  });

  it("interrupts a hanging turn: turn_finished with interrupted", async () => {
    const frame = turnFrame("chat-hang", "hang");
    bridge.send(frame);
    await bridge.waitFor((f) => f.type === "turn_started" && f.turnId === frame.turnId);
    await new Promise((r) => setTimeout(r, 300));
    bridge.send({ type: "interrupt", conversation: "chat-hang" });
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", interrupted: true, isError: false });
    // The session survives an interrupt: the next turn continues it.
    if (end.type !== "turn_finished") throw new Error("unreachable");
    const next = turnFrame("chat-hang", "history", { sessionId: end.sessionId });
    bridge.send(next);
    expect(await bridge.ended(next.turnId)).toMatchObject({ type: "turn_finished", text: "1" });
  });

  it("interrupting a turn that waits for permission withdraws the request", async () => {
    const frame = turnFrame("chat-interrupt-permission", "permission sleep 100");
    bridge.send(frame);
    const request = await requestOf(frame.turnId);
    bridge.send({ type: "interrupt", conversation: "chat-interrupt-permission" });
    const end = await bridge.ended(frame.turnId);
    expect(end).toMatchObject({ type: "turn_finished", interrupted: true });
    const resolved = bridge.turnEvents(frame.turnId).filter((e) => e.type === "permission_resolved");
    expect(resolved).toEqual([expect.objectContaining({ requestId: request.requestId, allow: false })]);
    expect(resolved[0]?.seq).toBeLessThan(end.seq);
  });

  it("interrupt and forget for a conversation without a turn are harmless", async () => {
    bridge.send({ type: "interrupt", conversation: "nobody-here" });
    bridge.send({ type: "forget", conversation: "nobody-here" });
    bridge.send({ type: "permission", requestId: "no-such-request", allow: true, by: "x" });
    bridge.send({ type: "tool_result", callId: "no-such-call", ok: true, output: "x" });
    bridge.send({ type: "ping", id: "still-here" });
    await bridge.waitFor((f) => f.type === "pong" && f.id === "still-here");
  });
});
