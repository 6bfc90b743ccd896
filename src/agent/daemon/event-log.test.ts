import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/logger.ts";
import { agentHomePaths } from "../home.ts";
import type { AgentEvent } from "../protocol.ts";
import { EventLog, type NewEvent } from "./event-log.ts";

const logger = createLogger({ level: "silent" });

function paths() {
  const p = agentHomePaths(mkdtempSync(join(tmpdir(), "cc-log-")));
  mkdirSync(p.agentDir, { recursive: true });
  return p;
}

function open(p: ReturnType<typeof paths>, compactBytes?: number) {
  return EventLog.open({
    paths: p,
    logger,
    onFatal: (error) => {
      throw error;
    },
    ...(compactBytes === undefined ? {} : { compactBytes }),
  });
}

const started = (turnId: string): NewEvent => ({
  type: "turn_started",
  conversation: "c",
  turnId,
  attempt: 1,
  sessionId: null,
});
const finished = (turnId: string): NewEvent => ({
  type: "turn_finished",
  conversation: "c",
  turnId,
  sessionId: "s",
  text: "done",
  isError: false,
  interrupted: false,
  durationMs: 1,
});

async function collect(log: EventLog, after: number, upTo: number): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for await (const event of log.readFrom(after, upTo)) out.push(event);
  return out;
}

describe("EventLog", () => {
  it("numbers events, hands them on only once durable, and continues the numbering after a reopen", async () => {
    const p = paths();
    const log = await open(p);
    const durable: number[] = [];
    log.onDurable = (events) => durable.push(...events.map((e) => e.seq));
    const a = log.append(started("t1"));
    const b = log.append({ type: "text", conversation: "c", turnId: "t1", text: "hi" });
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(durable).toEqual([]);
    await log.flush();
    expect(durable).toEqual([1, 2]);
    expect(log.table.get("t1")).toMatchObject({ state: "running", attempt: 1 });
    await log.close();

    const again = await open(p);
    expect(again.lastSeq).toBe(2);
    expect(again.append(finished("t1")).seq).toBe(3);
    await again.flush();
    expect(again.table.get("t1")?.state).toBe("finished");
    expect((await collect(again, 1, 3)).map((e) => e.seq)).toEqual([2, 3]);
    await again.close();
  });

  it("drops a torn last line left by a crash and skips unreadable ones", async () => {
    const p = paths();
    const log = await open(p);
    log.append(started("t1"));
    await log.close();
    appendFileSync(p.eventsLog, "not json at all\n");
    appendFileSync(p.eventsLog, '{"type":"text","conversation":"c","turnId":"t1","te');
    const reopened = await open(p);
    expect(reopened.lastSeq).toBe(1);
    reopened.append(finished("t1"));
    await reopened.close();
    const lines = readFileSync(p.eventsLog, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2] ?? "")).toMatchObject({ type: "turn_finished", seq: 2 });
  });

  it("compacts the acked prefix and keeps the turn states in turns.json", async () => {
    const p = paths();
    const log = await open(p, 1);
    for (const id of ["t1", "t2", "t3"]) {
      log.append(started(id));
      log.append(finished(id));
    }
    log.append(started("t4"));
    await log.flush();
    log.ack(4);
    log.append({ type: "text", conversation: "c", turnId: "t4", text: "after" });
    await log.flush();
    expect(existsSync(p.turnsSnapshot)).toBe(true);
    const seqs = readFileSync(p.eventsLog, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as AgentEvent).seq);
    expect(seqs).toEqual([5, 6, 7, 8]);
    await log.close();

    const reopened = await open(p, 1);
    expect(reopened.lastSeq).toBe(8);
    expect(reopened.table.get("t1")?.state).toBe("finished");
    expect(reopened.table.get("t3")?.state).toBe("finished");
    expect(reopened.table.get("t4")?.state).toBe("running");
    expect((await collect(reopened, 0, 8)).map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(reopened.append(finished("t4")).seq).toBe(9);
    await reopened.close();
  });

  it("does not compact below the threshold, nor past what is durable", async () => {
    const p = paths();
    const log = await open(p);
    log.append(started("t1"));
    await log.flush();
    log.ack(100);
    await log.flush();
    expect(existsSync(p.turnsSnapshot)).toBe(false);
    expect(await collect(log, 0, 1)).toHaveLength(1);
    await log.close();
  });

  it("records lost turns and open permission requests for recovery", async () => {
    const p = paths();
    const log = await open(p);
    log.append(started("t1"));
    log.append({
      type: "permission_request",
      conversation: "c",
      turnId: "t1",
      requestId: "r1",
      tool: "Bash",
      input: {},
      expiresAt: 0,
    });
    log.append(started("t2"));
    log.append({
      type: "turn_failed",
      conversation: "c",
      turnId: "t2",
      message: "x",
      retryable: true,
      sessionId: "s",
    });
    await log.close();
    const reopened = await open(p);
    expect(reopened.table.running().map(([id]) => id)).toEqual(["t1"]);
    expect(reopened.table.openRequestsOf("t1")).toEqual(["r1"]);
    expect(reopened.table.get("t2")).toMatchObject({ state: "lost", sessionId: "s" });
    await reopened.close();
  });
});
