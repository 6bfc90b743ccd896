import { type AgentEvent, MAX_OUTBOX_FILE_BYTES, type OutboxFile } from "../agent/protocol.ts";
import { qualifiedToolName } from "../agent/switchboard-tools.ts";
import {
  agentFileCaption,
  agentFileKey,
  agentFileRefusedNote,
  agentFilesNote,
  platformTakesFiles,
} from "../delivery/agent-files.ts";
import type { OutboundExtras } from "../delivery/port.ts";
import type { TurnStreamSink } from "../delivery/streaming/live-replies.ts";
import { approvalButtons, decisionOf, hasStandingApproval, isVerbose, recordDecision } from "./approvals.ts";
import type { RouterContext } from "./context.ts";
import { duration, message } from "./messages.ts";
import { enqueueReply } from "./replies.ts";
import { runSwitchboardTool } from "./switchboard-tools.ts";
import type { TurnRecord } from "./turn-store.ts";

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
    // The router's sink also drives the platforms' live messages and typing indicators (delivery).
    const stream = deps.stream as TurnStreamSink | undefined;
    switch (event.type) {
      case "turn_started":
        if (turn) stream?.started?.(event.conversation, event.turnId);
        break;
      case "text":
        deps.stream?.delta(event.conversation, event.turnId, event.text);
        break;
      case "tool_use":
        if (turn && (await isVerbose(ctx, turn.conversationKey))) {
          await enqueue(
            ctx,
            turn,
            `tool:${turn.id}:${event.toolUseId}`,
            message(turn.reply.language, "toolProgress", {
              tool: event.name,
              summary: summarize(event.input),
            }),
            { followup: true },
          );
        }
        break;
      case "permission_request": {
        if (!turn) break;
        const approval = {
          requestId: event.requestId,
          agent,
          turnId: event.turnId,
          conversationKey: event.conversation,
          userId: turn.userId,
          tool: event.tool,
        };
        await ctx.addApproval(approval);
        if (await hasStandingApproval(deps.store.transportState, approval)) {
          // This person allowed the tool "in this chat" earlier: answered at once, announced by
          // permission_resolved. A replayed request already decided is answered as it was decided.
          const by = message(turn.reply.language, "standingApproval");
          const now = { allow: true, by, at: ctx.now(), scope: "conversation" } as const;
          const decision = (await recordDecision(ctx, event.requestId, now))
            ? now
            : await decisionOf(ctx, event.requestId);
          if (decision) {
            await ctx.connection(agent, turn.userId).send({
              type: "permission",
              requestId: event.requestId,
              allow: decision.allow,
              by: decision.by,
            });
          }
          break;
        }
        // Buttons for everyone's platform; the text still says how to answer by typing.
        const buttons = (await deps.outbox.has(`perm:${event.requestId}`))
          ? undefined
          : await approvalButtons(ctx, approval, turn.reply.language);
        await enqueue(
          ctx,
          turn,
          `perm:${event.requestId}`,
          message(turn.reply.language, "permissionRequest", {
            tool: displayToolName(event.tool),
            summary: summarize(event.input),
            id: shortId(event.requestId),
            duration: duration(turn.reply.language, Math.max(0, event.expiresAt - ctx.now())),
          }),
          { followup: true, ...(buttons && { buttons }) },
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
        // Every way of answering (button, typed /approve, deadline) ends here: a later tap is told so.
        await recordDecision(ctx, event.requestId, {
          allow: event.allow,
          by: event.by,
          at: ctx.now(),
          scope: "once",
        });
        await enqueue(ctx, turn, `perm:${event.requestId}:resolved`, text, { followup: true });
        break;
      }
      case "tool_call": {
        // Only a switchboard's own turn carries its owner's authority; a project VM has no such tools.
        const output =
          turn && ctx.kindOf(agent) === "switchboard"
            ? await runSwitchboardTool(ctx, turn, event.name, event.input, event.callId)
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
          // The final answer takes over the message the turn streamed into (delivery's live replies).
          const identities = await deps.store.identities.listForUser(turn.userId);
          const recipient = identities.find((i) => i.platform === turn.reply.platform)?.platformUserId;
          await enqueue(ctx, turn, `turn:${turn.id}:final`, text, { stream: turn.id, recipient });
          // Files Claude left in its outbox follow the answer (before the turn ends: a replay finds it).
          if (event.files && event.files.length > 0) await sendAgentFiles(ctx, agent, turn, event.files);
          await deps.turns.end(turn.id, "finished");
        }
        stream?.ended?.(event.conversation, event.turnId);
        await ctx.removeApprovals(event.conversation, (a) => a.turnId === event.turnId);
        break;
      }
      case "turn_failed":
        // A lost turn is sent again (same id) and streams again from scratch; only a final failure ends it.
        if (!event.retryable) stream?.ended?.(event.conversation, event.turnId);
        else stream?.restarted?.(event.conversation, event.turnId);
        break;
      default:
        break;
    }
    ctx.waiters.get(event.turnId)?.(event);
  };
}

/**
 * One outbox message per file the turn reported, each fetched from the agent (`read_file`) only when its
 * key is new, so a replayed `turn_finished` sends nothing twice. Where the platform takes no files, and
 * for refused files, a note names them instead.
 */
async function sendAgentFiles(
  ctx: RouterContext,
  agent: string,
  turn: TurnRecord,
  files: readonly OutboxFile[],
): Promise<void> {
  const { outbox } = ctx.deps;
  const accepted = files.filter((f) => f.refused === undefined);
  if (!platformTakesFiles(turn.reply.platform)) {
    if (accepted.length > 0) {
      await enqueue(ctx, turn, `turn:${turn.id}:outfiles`, agentFilesNote(accepted), { followup: true });
    }
  } else {
    for (const file of accepted) {
      const key = agentFileKey(turn.id, file.name);
      if (await outbox.has(key)) continue;
      const read = await ctx.connection(agent, turn.userId).readFile(turn.id, file.name);
      const data = read.dataBase64;
      if (data === undefined || Buffer.byteLength(data, "base64") > MAX_OUTBOX_FILE_BYTES) {
        const reason = read.error ?? "it could not be read";
        await enqueue(ctx, turn, key, agentFileRefusedNote(file, reason), { followup: true });
        continue;
      }
      await enqueue(ctx, turn, key, agentFileCaption(file), {
        followup: true,
        file: { name: file.name, mediaType: file.mediaType, dataBase64: data },
      });
    }
  }
  for (const file of files) {
    if (file.refused === undefined) continue;
    const note = agentFileRefusedNote(file, file.refused);
    await enqueue(ctx, turn, agentFileKey(turn.id, file.name), note, { followup: true });
  }
}

/** A reply of the turn (see `enqueueReply`). */
function enqueue(
  ctx: RouterContext,
  turn: TurnRecord,
  key: string,
  text: string,
  extras: OutboundExtras,
): Promise<void> {
  const { platform, reply, inboundReceivedAt } = turn.reply;
  return enqueueReply(
    ctx,
    { platform, conversationKey: turn.conversationKey, reply, inboundReceivedAt },
    key,
    text,
    extras,
  );
}

/**
 * A tool's name for people: our switchboard tools without their MCP prefix (`mcp__cloudclaude__delete_vm`
 * would also read as Markdown emphasis on some platforms).
 */
function displayToolName(tool: string): string {
  const prefix = qualifiedToolName("");
  return tool.startsWith(prefix) ? tool.slice(prefix.length) : tool;
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
