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
import type { AgentEvent } from "./protocol.ts";

type Finished = Extract<AgentEvent, { type: "turn_finished" }>;
type Failed = Extract<AgentEvent, { type: "turn_failed" }>;

const home = tempHome();
let daemon: DaemonProcess;
let bridge: BridgeClient;

beforeAll(async () => {
  daemon = startDaemon({ home });
  await waitForDaemon(daemon);
  bridge = await BridgeClient.attach(home);
});

afterAll(async () => {
  await bridge?.close();
  await stopDaemon(daemon);
});

async function finish(frame: ReturnType<typeof turnFrame>): Promise<Finished> {
  bridge.send(frame);
  const end = await bridge.ended(frame.turnId);
  if (end.type !== "turn_finished") throw new Error(`turn failed: ${JSON.stringify(end)}`);
  return end;
}

describe("agent daemon (project kind, fake Claude Code)", () => {
  it("runs an echo turn: turn_started, streamed text, turn_finished with the answer", async () => {
    const frame = turnFrame("chat-echo", "echo hello there");
    const end = await finish(frame);
    const events = bridge.turnEvents(frame.turnId);
    expect(events[0]).toMatchObject({
      type: "turn_started",
      attempt: 1,
      sessionId: null,
      conversation: "chat-echo",
    });
    const texts = events.filter((e) => e.type === "text").map((e) => e.text);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join("")).toBe("echo: hello there");
    expect(end).toMatchObject({
      text: "echo: hello there",
      isError: false,
      interrupted: false,
      costUsd: 0.001,
    });
    expect(end.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(end.usage).toMatchObject({ output_tokens: 3 });
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("resumes a session by id, in the live process and after the daemon was SIGKILLed", async () => {
    const first = await finish(turnFrame("chat-resume", "echo one"));
    const second = await finish(turnFrame("chat-resume", "history", { sessionId: first.sessionId }));
    expect(second.text).toBe("1");
    expect(second.sessionId).toBe(first.sessionId);

    await bridge.kill();
    await stopDaemon(daemon, "SIGKILL");
    daemon = startDaemon({ home });
    await waitForDaemon(daemon);
    bridge = await BridgeClient.attach(home, 0);
    const third = await finish(turnFrame("chat-resume", "history", { sessionId: first.sessionId }));
    expect(third.text).toBe("2");
    expect(third.sessionId).toBe(first.sessionId);
  });

  it("fails a turn whose session transcript does not exist, not retryably", async () => {
    const frame = turnFrame("chat-missing", "echo x", { sessionId: "00000000-0000-4000-8000-000000000000" });
    bridge.send(frame);
    const end = (await bridge.ended(frame.turnId)) as Failed;
    expect(end).toMatchObject({ type: "turn_failed", retryable: false });
    expect(end.message).toContain("No conversation found with session ID");
  });

  it("ignores a repeated turn frame and answers query_turn", async () => {
    const frame = turnFrame("chat-dup", "slow 3");
    bridge.send(frame);
    bridge.send(frame);
    await bridge.waitFor((f) => f.type === "turn_started" && f.turnId === frame.turnId);
    bridge.send({ type: "query_turn", turnId: frame.turnId });
    await bridge.waitFor(
      (f) => f.type === "turn_state" && f.turnId === frame.turnId && f.state === "running",
    );
    await bridge.ended(frame.turnId);
    bridge.send(frame);
    bridge.send({ ...frame, attempt: 2 });
    bridge.send({ type: "query_turn", turnId: frame.turnId });
    const state = await bridge.waitFor(
      (f) => f.type === "turn_state" && f.turnId === frame.turnId && f.state !== "running",
    );
    expect(state).toMatchObject({ state: "finished", attempt: 1 });
    bridge.send({ type: "query_turn", turnId: "never-seen" });
    expect(await bridge.waitFor((f) => f.type === "turn_state" && f.turnId === "never-seen")).toMatchObject({
      state: "unknown",
      attempt: 0,
    });
    await sleep(300);
    expect(bridge.turnEvents(frame.turnId).filter((e) => e.type === "turn_started")).toHaveLength(1);
  });

  it("ignores malformed frames and keeps serving", async () => {
    bridge.send("this is not json");
    bridge.send('{"type":"turn","turnId":""}');
    bridge.send('{"type":"warp"}');
    bridge.send("[1,2,3]");
    bridge.send({ type: "ping", id: "after-garbage" });
    await bridge.waitFor((f) => f.type === "pong" && f.id === "after-garbage");
    const end = await finish(turnFrame("chat-garbage", "echo still alive"));
    expect(end.text).toBe("echo: still alive");
    expect(daemon.output()).toContain("ignoring a frame that is not JSON");
  });

  it("keeps each conversation's events in order when two run interleaved", async () => {
    const a = turnFrame("chat-a", "slow 5");
    const b = turnFrame("chat-b", "slow 5");
    bridge.send(a);
    bridge.send(b);
    const [endA, endB] = await Promise.all([bridge.ended(a.turnId), bridge.ended(b.turnId)]);
    for (const [frame, end] of [
      [a, endA],
      [b, endB],
    ] as const) {
      expect(end).toMatchObject({ type: "turn_finished", text: "word1 word2 word3 word4 word5" });
      const events = bridge.turnEvents(frame.turnId);
      expect(events.map((e) => e.type)).toEqual(["turn_started", ...Array(5).fill("text"), "turn_finished"]);
      expect(events.every((e) => e.conversation === frame.conversation)).toBe(true);
    }
    // Both ran at once: their events interleave in the log.
    const started = Math.max(...[a, b].map((f) => bridge.turnEvents(f.turnId)[0]?.seq ?? 0));
    const firstEnd = Math.min(endA.seq, endB.seq);
    expect(started).toBeLessThan(firstEnd);
  });

  it("queues a second turn of the same conversation until the first ends", async () => {
    const first = turnFrame("chat-queue", "slow 3");
    bridge.send(first);
    const second = turnFrame("chat-queue", "echo next");
    bridge.send(second);
    const end2 = await bridge.ended(second.turnId);
    const end1 = await bridge.ended(first.turnId);
    const start2 = bridge.turnEvents(second.turnId)[0];
    expect(start2?.seq).toBeGreaterThan(end1.seq);
    expect(end2).toMatchObject({ type: "turn_finished", text: "echo: next" });
  });

  it("forget closes the session: a turn without session id starts a new one", async () => {
    const first = await finish(turnFrame("chat-forget", "echo remember me"));
    bridge.send({ type: "forget", conversation: "chat-forget" });
    const fresh = await finish(turnFrame("chat-forget", "history"));
    expect(fresh.text).toBe("0");
    expect(fresh.sessionId).not.toBe(first.sessionId);
  });

  it("reports an error result as a finished turn with isError", async () => {
    const end = await finish(turnFrame("chat-fail", "fail"));
    expect(end).toMatchObject({ isError: true, interrupted: false });
    expect(end.text).toContain("the fake was asked to fail");
  });
});
