import { z } from "zod";
import type { AgentEvent } from "../protocol.ts";

/**
 * Where each turn stands, derived from the event log (and the snapshot of compacted events). This is what
 * makes `turn` idempotent across daemon restarts: a turnId the log knows is never started twice.
 *
 * - running:  turn_started without an end. After a daemon restart such a turn was lost (see recovery).
 * - finished: turn_finished.
 * - failed:   turn_failed, not retryable.
 * - lost:     turn_failed, retryable (the daemon or its agent process died): a `turn` frame with a higher
 *             attempt runs it again.
 */
export type TurnState = "running" | "finished" | "failed" | "lost";

const TurnRecord = z.object({
  conversation: z.string(),
  attempt: z.number().int(),
  state: z.enum(["running", "finished", "failed", "lost"]),
  sessionId: z.string().nullable(),
  at: z.number(),
});
export type TurnRecord = z.infer<typeof TurnRecord>;

const OpenRequest = z.object({ turnId: z.string(), conversation: z.string() });
type OpenRequest = z.infer<typeof OpenRequest>;

export const TurnTableSnapshot = z.object({
  turns: z.record(z.string(), TurnRecord),
  openRequests: z.record(z.string(), OpenRequest),
});
export type TurnTableSnapshot = z.infer<typeof TurnTableSnapshot>;

export class TurnTable {
  private readonly turns = new Map<string, TurnRecord>();
  /** permission_request without its permission_resolved, by requestId. */
  private readonly openRequests = new Map<string, OpenRequest>();

  static fromSnapshot(snapshot: TurnTableSnapshot): TurnTable {
    const table = new TurnTable();
    for (const [id, record] of Object.entries(snapshot.turns)) table.turns.set(id, record);
    for (const [id, request] of Object.entries(snapshot.openRequests)) table.openRequests.set(id, request);
    return table;
  }

  apply(event: AgentEvent): void {
    const { turnId, conversation, at } = event;
    const known = this.turns.get(turnId);
    switch (event.type) {
      case "turn_started":
        this.turns.set(turnId, {
          conversation,
          attempt: event.attempt,
          state: "running",
          sessionId: event.sessionId,
          at,
        });
        return;
      case "turn_finished":
        this.turns.set(turnId, {
          conversation,
          attempt: known?.attempt ?? 1,
          state: "finished",
          sessionId: event.sessionId,
          at,
        });
        return;
      case "turn_failed":
        this.turns.set(turnId, {
          conversation,
          attempt: known?.attempt ?? 1,
          state: event.retryable ? "lost" : "failed",
          sessionId: event.sessionId ?? known?.sessionId ?? null,
          at,
        });
        return;
      case "permission_request":
        this.openRequests.set(event.requestId, { turnId, conversation });
        return;
      case "permission_resolved":
        this.openRequests.delete(event.requestId);
        return;
      default:
        return;
    }
  }

  get(turnId: string): TurnRecord | undefined {
    return this.turns.get(turnId);
  }

  running(): Array<[string, TurnRecord]> {
    return [...this.turns].filter(([, record]) => record.state === "running");
  }

  openRequestsOf(turnId: string): string[] {
    return [...this.openRequests].filter(([, r]) => r.turnId === turnId).map(([id]) => id);
  }

  /** Forgets ended turns older than `before` (ms): the router stops retrying long before. */
  prune(before: number): void {
    for (const [id, record] of this.turns) {
      if (record.state !== "running" && record.at < before) this.turns.delete(id);
    }
  }

  snapshot(): TurnTableSnapshot {
    return { turns: Object.fromEntries(this.turns), openRequests: Object.fromEntries(this.openRequests) };
  }
}
