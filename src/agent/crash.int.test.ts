import { afterEach, describe, expect, it } from "vitest";
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

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function daemonAt(home: string): Promise<DaemonProcess> {
  const daemon = startDaemon({ home });
  cleanup.push(() => stopDaemon(daemon));
  await waitForDaemon(daemon);
  return daemon;
}

async function attach(home: string, resumeFrom = 0): Promise<BridgeClient> {
  const bridge = await BridgeClient.attach(home, resumeFrom);
  cleanup.push(() => bridge.kill());
  return bridge;
}

function texts(events: readonly AgentEvent[]): string {
  return events.map((e) => (e.type === "text" ? e.text : "")).join("");
}

describe("crashes and reconnects", () => {
  it("a bridge dropped mid-turn is caught up by the next one: no gap, no duplicate", async () => {
    const home = tempHome();
    await daemonAt(home);
    const first = await attach(home);
    const frame = turnFrame("chat-drop", "slow 10");
    first.send(frame);
    await first.waitFor(() => first.turnEvents(frame.turnId).filter((e) => e.type === "text").length >= 3);
    await first.kill();
    const seen = first.events();
    const lastSeen = first.lastSeq();
    await sleep(300); // the daemon keeps working without a bridge

    const second = await attach(home, lastSeen);
    await second.ended(frame.turnId);
    const replayed = second.events();
    expect(replayed[0]?.seq).toBe(lastSeen + 1);
    const seqs = replayed.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeen + 1 + i));
    const all = [...seen, ...replayed].filter((e) => e.turnId === frame.turnId);
    expect(new Set(all.map((e) => e.seq)).size).toBe(all.length);
    expect(texts(all)).toBe("word1 word2 word3 word4 word5 word6 word7 word8 word9 word10");
    expect(second.frames[0]).toMatchObject({ type: "welcome" });
  });

  it("a new bridge replaces the attached one", async () => {
    const home = tempHome();
    await daemonAt(home);
    const first = await attach(home);
    const second = await attach(home);
    expect(await first.exited).toBe(0);
    second.send({ type: "ping", id: "p" });
    await second.waitFor((f) => f.type === "pong");
    const frame = turnFrame("chat-replace", "echo only to the second");
    second.send(frame);
    await second.ended(frame.turnId);
    expect(first.events()).toHaveLength(0);
  });

  it("a turn lost to a daemon SIGKILL is reported retryable and runs again with a higher attempt", async () => {
    const home = tempHome();
    const daemon = await daemonAt(home);
    const bridge = await attach(home);
    const warmup = turnFrame("chat-kill", "echo before");
    bridge.send(warmup);
    const before = await bridge.ended(warmup.turnId);
    if (before.type !== "turn_finished") throw new Error("warmup failed");

    const frame = turnFrame("chat-kill", "slow 20", { sessionId: before.sessionId });
    bridge.send(frame);
    await bridge.waitFor((f) => f.type === "text" && f.turnId === frame.turnId);
    await stopDaemon(daemon, "SIGKILL");
    await bridge.exited;
    const lastSeen = bridge.lastSeq();

    await daemonAt(home);
    const after = await attach(home, lastSeen);
    const failed = await after.ended(frame.turnId);
    expect(failed).toMatchObject({ type: "turn_failed", retryable: true, sessionId: before.sessionId });

    after.send({ type: "query_turn", turnId: frame.turnId });
    expect(await after.waitFor((f) => f.type === "turn_state")).toMatchObject({ state: "lost", attempt: 1 });
    // The same attempt again is a duplicate of the lost one: ignored.
    after.send(frame);
    const retry = { ...frame, attempt: 2, text: "history" };
    after.send(retry);
    const finished = await after.waitFor(
      (f) => f.type === "turn_finished" && f.turnId === frame.turnId && f.seq > failed.seq,
    );
    // The lost turn's prompt reached the transcript before the kill, so the rerun sees two earlier prompts.
    expect(finished).toMatchObject({ type: "turn_finished", text: "2", sessionId: before.sessionId });
    const starts = after.turnEvents(frame.turnId).filter((e) => e.type === "turn_started");
    expect(starts).toEqual([expect.objectContaining({ attempt: 2 })]);
  });

  it("a Claude Code process that dies mid-turn fails the turn retryably; the next turn resumes", async () => {
    const home = tempHome();
    await daemonAt(home);
    const bridge = await attach(home);
    const first = turnFrame("chat-crash", "echo hi");
    bridge.send(first);
    const end = await bridge.ended(first.turnId);
    if (end.type !== "turn_finished") throw new Error("first turn failed");

    const crash = turnFrame("chat-crash", "crash", { sessionId: end.sessionId });
    bridge.send(crash);
    const failed = await bridge.ended(crash.turnId);
    expect(failed).toMatchObject({ type: "turn_failed", retryable: true, sessionId: end.sessionId });
    if (failed.type !== "turn_failed") throw new Error("unreachable");
    expect(failed.message).toContain("crashing as asked");

    const next = turnFrame("chat-crash", "history", { sessionId: end.sessionId });
    bridge.send(next);
    expect(await bridge.ended(next.turnId)).toMatchObject({ type: "turn_finished", text: "2" });
  });

  it("a daemon stopped with SIGTERM fails its running turn retryably and exits 0", async () => {
    const home = tempHome();
    const daemon = await daemonAt(home);
    const bridge = await attach(home);
    const frame = turnFrame("chat-term", "hang");
    bridge.send(frame);
    await bridge.waitFor((f) => f.type === "turn_started");
    daemon.child.kill("SIGTERM");
    expect(await bridge.ended(frame.turnId)).toMatchObject({ type: "turn_failed", retryable: true });
    expect(await daemon.exited).toBe(0);
  });

  it("refuses to start a second daemon on the same home", async () => {
    const home = tempHome();
    await daemonAt(home);
    const bridge = await attach(home);
    const second = startDaemon({ home });
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain("another agent daemon is running");
    // The probe did not disturb the attached bridge.
    bridge.send({ type: "ping", id: "still-attached" });
    await bridge.waitFor((f) => f.type === "pong");
  });
});
