import { randomUUID } from "node:crypto";
import type { Logger } from "../../shared/logger.ts";
import type { AgentRuntime, AgentSession, SessionHost, TurnOutcome } from "../port.ts";
import type { OutboxFile, RouterFrame } from "../protocol.ts";
import { placeAttachments } from "./attachments.ts";
import type { EventLog } from "./event-log.ts";
import { collectOutbox } from "./outbox.ts";
import type { Waiters } from "./waiters.ts";

export type TurnFrame = Extract<RouterFrame, { type: "turn" }>;
export type PermissionAnswer =
  | { kind: "answer"; allow: boolean; by: string; reason?: string }
  /** Settled by the daemon itself (turn over, interrupt), which already logged permission_resolved. */
  | { kind: "cancelled" };
export type ToolAnswer = { kind: "answer"; ok: boolean; output: string } | { kind: "cancelled" };

/** What a conversation shares with the daemon. */
export interface ConversationContext {
  readonly log: EventLog;
  readonly runtime: AgentRuntime;
  readonly logger: Logger;
  readonly permissionTimeoutMs: number;
  readonly idleMs: number;
  readonly permissions: Waiters<PermissionAnswer>;
  readonly toolResults: Waiters<ToolAnswer>;
  /** Turns accepted and not yet durably ended (queued or running), with their attempt. */
  readonly active: Map<string, number>;
  /**
   * Claude's cwd: the files people send are written under its `attachments/` folder, and the files it
   * leaves in `outbox/` are sent to the chat after the answer.
   */
  readonly workspace?: string;
}

interface Current {
  readonly frame: TurnFrame;
  readonly requests: Set<string>;
  readonly calls: Set<string>;
  /** Set once the session is open; an interrupt that comes earlier is applied when it is. */
  session?: AgentSession;
  interruptRequested: boolean;
}

/**
 * One chat conversation: its turns run one at a time in arrival order, in one live agent session that is
 * closed after `idleMs` without a turn and reopened (resumed) by the next one. It is the session's host, so
 * everything the agent does during a turn lands in the event log under that turn.
 */
export class Conversation implements SessionHost {
  readonly id: string;
  private readonly ctx: ConversationContext;
  private readonly queue: TurnFrame[] = [];
  private current: Current | undefined;
  private session: AgentSession | undefined;
  private draining = false;
  private forgotten = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(id: string, ctx: ConversationContext) {
    this.id = id;
    this.ctx = ctx;
  }

  enqueue(frame: TurnFrame): void {
    this.queue.push(frame);
    void this.drain();
  }

  async interrupt(): Promise<void> {
    const current = this.current;
    if (!current) return;
    current.interruptRequested = true;
    if (!current.session) return;
    await current.session.interrupt();
    // Claude Code withdraws its pending prompts on interrupt; settle whatever it left so nothing hangs.
    if (this.current === current) this.cancelOpen(current, "interrupt");
  }

  /** `/new`: the running turn is interrupted and the session is closed; the next turn starts afresh. */
  async forget(): Promise<void> {
    this.forgotten = true;
    if (this.current) await this.interrupt();
    else await this.closeSession();
  }

  /** Daemon shutdown: the running turn fails retryably, queued turns are dropped (the router re-sends). */
  async abandon(message: string): Promise<void> {
    this.queue.length = 0;
    clearTimeout(this.idleTimer);
    const current = this.current;
    if (current) {
      const sessionId = this.session?.sessionId ?? current.frame.sessionId;
      this.end(current, { kind: "failed", message, retryable: true, sessionId });
    }
    const session = this.session;
    this.session = undefined;
    await session?.close({ force: true });
  }

  // ---- SessionHost: called by the runtime during the running turn

  text(text: string): void {
    const current = this.current;
    if (current) this.ctx.log.append({ type: "text", ...this.ids(current), text });
  }

  toolUse(use: { toolUseId: string; name: string; input: unknown }): void {
    const current = this.current;
    if (current) this.ctx.log.append({ type: "tool_use", ...this.ids(current), ...use });
  }

  async askPermission(ask: { tool: string; input: unknown; title?: string; signal: AbortSignal }) {
    const current = this.current;
    if (!current) return { allow: false, message: "No turn is running." };
    const { log, permissions, permissionTimeoutMs } = this.ctx;
    const requestId = randomUUID();
    log.append({
      type: "permission_request",
      ...this.ids(current),
      requestId,
      tool: ask.tool,
      input: ask.input,
      ...(ask.title === undefined ? {} : { title: ask.title }),
      expiresAt: Date.now() + permissionTimeoutMs,
    });
    current.requests.add(requestId);
    const answer = await permissions.wait(requestId, permissionTimeoutMs, ask.signal);
    current.requests.delete(requestId);
    const resolved = (allow: boolean, by: string) =>
      log.append({ type: "permission_resolved", ...this.ids(current), requestId, allow, by });
    switch (answer.kind) {
      case "answer":
        resolved(answer.allow, answer.by);
        if (answer.allow) return { allow: true };
        return {
          allow: false,
          message: `Declined in chat by ${answer.by}${answer.reason ? `: ${answer.reason}` : "."}`,
        };
      case "timeout":
        resolved(false, "timeout");
        return {
          allow: false,
          message: `Nobody answered the permission request in chat within ${Math.round(permissionTimeoutMs / 1000)} s, so it was denied.`,
        };
      case "aborted":
        resolved(false, "cancelled");
        return { allow: false, message: "The request was cancelled." };
      default:
        return { allow: false, message: "The request was cancelled." };
    }
  }

  async callTool(call: { name: string; input: unknown; signal?: AbortSignal }) {
    const current = this.current;
    if (!current) return { ok: false, output: "No turn is running." };
    const callId = randomUUID();
    this.ctx.log.append({
      type: "tool_call",
      ...this.ids(current),
      callId,
      name: call.name,
      input: call.input,
    });
    current.calls.add(callId);
    const answer = await this.ctx.toolResults.wait(callId, this.ctx.permissionTimeoutMs, call.signal);
    current.calls.delete(callId);
    if (answer.kind === "answer") return { ok: answer.ok, output: answer.output };
    if (answer.kind === "timeout")
      return { ok: false, output: "CloudClaude did not answer this tool call in time." };
    return { ok: false, output: "The tool call was cancelled." };
  }

  // ---- turns

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    clearTimeout(this.idleTimer);
    try {
      for (let frame = this.queue.shift(); frame; frame = this.queue.shift()) await this.run(frame);
    } finally {
      this.draining = false;
      this.armIdle();
    }
  }

  private async run(full: TurnFrame): Promise<void> {
    const { log, active, logger } = this.ctx;
    // The files' bytes are not kept for the whole turn: only until they are written.
    const { attachments = [], ...frame } = full;
    const { turnId, attempt } = frame;
    log.append({ type: "turn_started", conversation: this.id, turnId, attempt, sessionId: frame.sessionId });
    const current: Current = { frame, requests: new Set(), calls: new Set(), interruptRequested: false };
    this.current = current;
    let outcome: TurnOutcome;
    try {
      // Before the turn runs, so Claude finds the files where the text says they are.
      const placed =
        attachments.length > 0 && this.ctx.workspace !== undefined
          ? await placeAttachments(this.ctx.workspace, turnId, attachments)
          : [];
      const text = [frame.text, ...placed].filter((t) => t !== "").join("\n");
      const session = await this.sessionFor(frame.sessionId);
      if (this.current !== current) {
        await session.close({ force: true }); // abandoned (shutdown) while the session was opening
        return;
      }
      current.session = session;
      const running = session.turn(text);
      if (current.interruptRequested) void session.interrupt();
      outcome = await running;
    } catch (error) {
      logger.error({ err: error, turnId }, "turn could not run");
      outcome = { kind: "failed", message: String(error), retryable: true, sessionId: frame.sessionId };
    }
    if (this.current !== current) return; // abandoned at shutdown: already ended
    // The files Claude left in `outbox/` go with the answer (metadata only: the router reads the bytes).
    let files: OutboxFile[] = [];
    if (outcome.kind === "finished" && this.ctx.workspace !== undefined) {
      files = await collectOutbox(this.ctx.workspace, turnId);
      if (this.current !== current) return;
    }
    this.end(current, outcome, files);
    // Only once the end is durable may a re-sent `turn` be judged by the log alone.
    await log.flush();
    active.delete(turnId);
  }

  private end(current: Current, outcome: TurnOutcome, files: readonly OutboxFile[] = []): void {
    this.cancelOpen(current, "cancelled");
    this.current = undefined;
    const ids = this.ids(current);
    if (outcome.kind === "finished") {
      const { kind: _, ...finished } = outcome;
      this.ctx.log.append({
        type: "turn_finished",
        ...ids,
        ...finished,
        ...(files.length > 0 && { files: [...files] }),
      });
    } else {
      const { message, retryable, sessionId } = outcome;
      this.ctx.log.append({ type: "turn_failed", ...ids, message, retryable, sessionId });
    }
  }

  private cancelOpen(current: Current, by: string): void {
    for (const requestId of current.requests) {
      // false when an answer just settled it: askPermission logs that one (exactly one permission_resolved).
      if (this.ctx.permissions.settle(requestId, { kind: "cancelled" })) {
        this.ctx.log.append({
          type: "permission_resolved",
          ...this.ids(current),
          requestId,
          allow: false,
          by,
        });
      }
    }
    current.requests.clear();
    for (const callId of current.calls) this.ctx.toolResults.settle(callId, { kind: "cancelled" });
    current.calls.clear();
  }

  /** Reuses the live session when it is the one asked for; otherwise opens (resumes) the requested one. */
  private async sessionFor(requested: string | null): Promise<AgentSession> {
    const live = this.session;
    if (live?.alive && !this.forgotten && requested !== null && live.sessionId === requested) return live;
    await this.closeSession();
    this.forgotten = false;
    this.ctx.logger.info({ conversation: this.id, resume: requested }, "opening an agent session");
    await this.ctx.runtime.ready?.();
    const session = this.ctx.runtime.open({ conversation: this.id, resume: requested }, this);
    this.session = session;
    return session;
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (!this.session) return;
    if (this.forgotten || !this.session.alive) {
      void this.closeSession();
      return;
    }
    this.idleTimer = setTimeout(() => {
      if (this.draining) return;
      this.ctx.logger.info({ conversation: this.id }, "closing an idle agent session");
      void this.closeSession();
    }, this.ctx.idleMs);
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      await session.close();
    } catch (error) {
      this.ctx.logger.warn({ err: error, conversation: this.id }, "closing the session failed");
    }
  }

  private ids(current: Current) {
    return { conversation: this.id, turnId: current.frame.turnId };
  }
}
