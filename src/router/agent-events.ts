import type { AgentEvent } from "../agent/protocol.ts";
import type { RouterContext } from "./context.ts";
import { duration, message } from "./messages.ts";
import { runSwitchboardTool } from "./switchboard-tools.ts";

/**
 * Handles every event an agent sends, whether or not this router process is waiting on its turn (after a
 * restart the daemon replays what the last router did not finish). Each handler is idempotent: replies go
 * through outbox keys derived from the event, state changes are upserts.
 */
export function createAgentEventHandler(ctx: RouterContext) {
  return async function onAgentEvent(agent: string, event: AgentEvent): Promise<void> {
    const { deps } = ctx;
    const recorded = await deps.turns.get(event.turnId);
    // An agent speaks only for its own turns: an event naming another agent's turn (or another
    // conversation) is ignored, so a compromised container cannot post into someone else's chat.
    const turn =
      recorded && recorded.agent === agent && recorded.conversationKey === event.conversation
        ? recorded
        : undefined;
    if (recorded && !turn) {
      deps.logger.warn(
        { agent, turnId: event.turnId, type: event.type },
        "ignored an agent event for a turn that is not its own",
      );
      return;
    }
    switch (event.type) {
      case "text":
        deps.stream?.delta(event.conversation, event.turnId, event.text);
        break;
      case "permission_request": {
        if (!turn) break;
        await ctx.addApproval({
          requestId: event.requestId,
          agent,
          turnId: event.turnId,
          conversationKey: event.conversation,
          userId: turn.userId,
          tool: event.tool,
        });
        await ctx.reply(
          `perm:${event.requestId}`,
          turn.reply,
          turn.conversationKey,
          message(turn.reply.language, "permissionRequest", {
            tool: event.tool,
            summary: summarize(event.input),
            id: shortId(event.requestId),
            duration: duration(turn.reply.language, Math.max(0, event.expiresAt - ctx.now())),
          }),
        );
        break;
      }
      case "permission_resolved": {
        const [pending] = await ctx.removeApprovals(
          event.conversation,
          (a) => a.requestId === event.requestId,
        );
        if (!turn) break;
        const text =
          event.by === "timeout"
            ? message(turn.reply.language, "permissionExpired", {
                tool: pending?.tool ?? "the tool",
                duration: duration(turn.reply.language, deps.agents.permissionTimeoutMs),
              })
            : message(turn.reply.language, event.allow ? "permissionApproved" : "permissionDenied", {
                by: event.by,
              });
        await ctx.reply(`perm:${event.requestId}:resolved`, turn.reply, turn.conversationKey, text);
        break;
      }
      case "tool_call": {
        const output = turn
          ? await runSwitchboardTool(ctx, turn.userId, event.name, event.input)
          : { ok: false, output: "unknown turn" };
        await ctx.connection(agent, turn?.userId ?? "").send({
          type: "tool_result",
          callId: event.callId,
          ...output,
        });
        break;
      }
      case "turn_finished": {
        if (turn) {
          await deps.store.conversations.setAgentSession(turn.conversationKey, agent, event.sessionId);
          const text =
            event.text.trim() !== ""
              ? event.text
              : message(turn.reply.language, event.interrupted ? "interrupted" : "emptyReply");
          await ctx.reply(`turn:${turn.id}:final`, turn.reply, turn.conversationKey, text);
          await deps.turns.end(turn.id, "finished");
        }
        await ctx.removeApprovals(event.conversation, (a) => a.turnId === event.turnId);
        break;
      }
      default:
        break;
    }
    ctx.waiters.get(event.turnId)?.(event);
  };
}

/** Approval ids shown in chat: short, and `/approve` matches on a prefix. */
export function shortId(requestId: string): string {
  return requestId.replace(/[^A-Za-z0-9]/g, "").slice(-6);
}

function summarize(input: unknown): string {
  if (input && typeof input === "object") {
    const record = input as Record<string, unknown>;
    for (const key of ["command", "file_path", "path", "url", "pattern"]) {
      if (typeof record[key] === "string") return String(record[key]).slice(0, 300);
    }
  }
  const json = JSON.stringify(input) ?? "";
  return json.length > 300 ? `${json.slice(0, 300)}…` : json;
}
