import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BridgeClient,
  type DaemonProcess,
  sleep,
  startDaemon,
  stopDaemon,
  tempHome,
  turnFrame,
  waitForDaemon,
} from "../../test/support/fake-claude/agent-harness.ts";

const home = tempHome();
let daemon: DaemonProcess;
let bridge: BridgeClient;

beforeAll(async () => {
  daemon = startDaemon({ home, env: { CLOUDCLAUDE_AGENT_IDLE_MS: "400" } });
  await waitForDaemon(daemon);
  bridge = await BridgeClient.attach(home);
});

afterAll(async () => {
  await bridge?.close();
  await stopDaemon(daemon);
});

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("live sessions", () => {
  it("closes an idle session and resumes it for the next turn", async () => {
    const first = turnFrame("chat-idle", "echo one");
    bridge.send(first);
    const end = await bridge.ended(first.turnId);
    if (end.type !== "turn_finished") throw new Error(JSON.stringify(end));
    const quick = turnFrame("chat-idle", "history", { sessionId: end.sessionId });
    bridge.send(quick);
    expect(await bridge.ended(quick.turnId)).toMatchObject({ text: "1" });
    const opened = count(daemon.output(), "opening an agent session");

    await sleep(1_000);
    expect(daemon.output()).toContain("closing an idle agent session");
    const later = turnFrame("chat-idle", "history", { sessionId: end.sessionId });
    bridge.send(later);
    expect(await bridge.ended(later.turnId)).toMatchObject({ type: "turn_finished", text: "2" });
    expect(count(daemon.output(), "opening an agent session")).toBe(opened + 1);
  });

  it("applies an interrupt that arrives while the turn's session is still opening", async () => {
    const frame = turnFrame("chat-early-interrupt", "hang");
    bridge.send(frame);
    bridge.send({ type: "interrupt", conversation: "chat-early-interrupt" });
    expect(await bridge.ended(frame.turnId)).toMatchObject({ type: "turn_finished", interrupted: true });
  });
});
