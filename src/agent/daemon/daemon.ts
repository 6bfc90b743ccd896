import { randomUUID } from "node:crypto";
import { unlink, writeFile } from "node:fs/promises";
import type { Logger } from "../../shared/logger.ts";
import type { AgentKind } from "../config.ts";
import { agentHomePaths, ensureAgentHome, socketAddress } from "../home.ts";
import type { AgentRuntime } from "../port.ts";
import { type DaemonReply, PROTOCOL_VERSION, type RouterFrame } from "../protocol.ts";
import { BridgeServer } from "./bridge-server.ts";
import {
  Conversation,
  type ConversationContext,
  type PermissionAnswer,
  type ToolAnswer,
} from "./conversation.ts";
import { EventLog } from "./event-log.ts";
import { readOutboxFile } from "./outbox.ts";
import { Waiters } from "./waiters.ts";

export interface DaemonOptions {
  readonly home: string;
  readonly kind: AgentKind;
  readonly runtime: AgentRuntime;
  readonly logger: Logger;
  readonly permissionTimeoutMs: number;
  readonly idleMs: number;
  /** Log size from which an `ack` compacts the log (default 8 MiB). */
  readonly compactBytes?: number;
}

export interface DaemonHandle {
  readonly daemonId: string;
  /** Ends running turns (retryably), closes sessions, the socket and the log. */
  stop(): Promise<void>;
  /** Resolves with the exit code once the daemon has stopped (by `stop` or a fatal log error). */
  readonly stopped: Promise<number>;
}

/**
 * The agent daemon: the container's main process. It keeps each conversation's live agent session, numbers
 * and persists everything that happens in the event log, and serves one bridge at a time on its unix socket.
 * Without a bridge it keeps working and logging; the next bridge catches up from the log.
 */
export async function runDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const { logger } = options;
  const paths = agentHomePaths(options.home);
  ensureAgentHome(paths);
  const address = socketAddress(paths);
  if (address.cwd !== undefined) process.chdir(address.cwd);

  const daemonId = randomUUID();
  let resolveStopped: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stopWith = (code: number) => {
    stopping ??= shutdown().then(() => resolveStopped(code));
    return stopping;
  };

  const log = await EventLog.open({
    paths,
    logger,
    onFatal: () => void stopWith(1),
    ...(options.compactBytes === undefined ? {} : { compactBytes: options.compactBytes }),
  });
  recoverLostTurns(log, logger);
  await log.flush();

  const ctx: ConversationContext = {
    log,
    runtime: options.runtime,
    logger,
    permissionTimeoutMs: options.permissionTimeoutMs,
    idleMs: options.idleMs,
    permissions: new Waiters<PermissionAnswer>(),
    toolResults: new Waiters<ToolAnswer>(),
    active: new Map(),
    workspace: paths.workspace,
  };
  const conversations = new Map<string, Conversation>();
  const conversation = (id: string) => {
    let found = conversations.get(id);
    if (!found) {
      found = new Conversation(id, ctx);
      conversations.set(id, found);
    }
    return found;
  };

  const onFrame = (frame: RouterFrame, reply: (frame: DaemonReply) => void) => {
    switch (frame.type) {
      case "turn":
        return acceptTurn(frame);
      case "interrupt":
        return void conversations.get(frame.conversation)?.interrupt();
      case "forget":
        return void conversations.get(frame.conversation)?.forget();
      case "permission": {
        const { allow, by, reason } = frame;
        const answer = { kind: "answer" as const, allow, by, ...(reason === undefined ? {} : { reason }) };
        if (!ctx.permissions.settle(frame.requestId, answer)) {
          logger.info(
            { requestId: frame.requestId },
            "permission answer for no open request (late or repeated)",
          );
        }
        return;
      }
      case "tool_result":
        if (!ctx.toolResults.settle(frame.callId, { kind: "answer", ok: frame.ok, output: frame.output })) {
          logger.info({ callId: frame.callId }, "tool result for no open call (late or repeated)");
        }
        return;
      case "query_turn":
        return reply(turnState(frame.turnId));
      case "read_file": {
        const { turnId, name } = frame;
        void readOutboxFile(paths.workspace, turnId, name).then((read) =>
          reply(
            "data" in read
              ? { type: "file", turnId, name, dataBase64: read.data.toString("base64") }
              : { type: "file", turnId, name, error: read.error },
          ),
        );
        return;
      }
      case "ack":
        return log.ack(frame.seq);
      case "ping":
        return reply({ type: "pong", id: frame.id });
      case "hello":
        return;
    }
  };

  function acceptTurn(frame: Extract<RouterFrame, { type: "turn" }>): void {
    const { turnId, attempt } = frame;
    if (stopping) {
      logger.info({ turnId }, "stopping; not starting the turn (the router re-sends it to the next daemon)");
      return;
    }
    const known = log.table.get(turnId);
    if (ctx.active.has(turnId)) {
      logger.info({ turnId, attempt }, "turn already accepted; ignoring the repeat");
      return;
    }
    // A lost or failed turn runs again only when the router asks with a higher attempt (it does so on
    // purpose: after a crash, or in a fresh session when the old transcript is gone).
    const rerunnable = known?.state === "lost" || known?.state === "failed";
    if (known && (!rerunnable || attempt <= known.attempt)) {
      logger.info(
        { turnId, attempt, state: known.state, knownAttempt: known.attempt },
        "turn known; ignoring",
      );
      return;
    }
    ctx.active.set(turnId, attempt);
    conversation(frame.conversation).enqueue(frame);
  }

  function turnState(turnId: string): DaemonReply {
    const attempt = ctx.active.get(turnId);
    if (attempt !== undefined) return { type: "turn_state", turnId, state: "running", attempt };
    const known = log.table.get(turnId);
    if (known) return { type: "turn_state", turnId, state: known.state, attempt: known.attempt };
    return { type: "turn_state", turnId, state: "unknown", attempt: 0 };
  }

  const server = await BridgeServer.listen({
    socketPath: address.path,
    log,
    logger,
    welcome: { type: "welcome", protocol: PROTOCOL_VERSION, daemonId, kind: options.kind },
    onFrame,
  });
  log.onDurable = (events) => server.deliver(events);
  await writeFile(paths.pidFile, `${process.pid}\n`);
  logger.info({ daemonId, kind: options.kind, home: paths.home, lastSeq: log.lastSeq }, "agent daemon ready");

  async function shutdown(): Promise<void> {
    logger.info("agent daemon stopping");
    await Promise.all(
      [...conversations.values()].map((c) => c.abandon("the agent daemon stopped during the turn")),
    );
    await log.flush();
    await server.close();
    await log.close().catch(() => {});
    await unlink(paths.pidFile).catch(() => {});
  }

  return { daemonId, stop: () => stopWith(0), stopped };
}

/**
 * A turn the log shows running was lost with the previous daemon: its agent process died with it. The
 * router learns so from a retryable turn_failed (and may run it again with a higher attempt); its open
 * permission requests are closed first.
 */
function recoverLostTurns(log: EventLog, logger: Logger): void {
  for (const [turnId, record] of log.table.running()) {
    const { conversation, sessionId } = record;
    for (const requestId of log.table.openRequestsOf(turnId)) {
      log.append({
        type: "permission_resolved",
        conversation,
        turnId,
        requestId,
        allow: false,
        by: "cancelled",
      });
    }
    log.append({
      type: "turn_failed",
      conversation,
      turnId,
      message: "The agent daemon restarted during this turn.",
      retryable: true,
      sessionId,
    });
    logger.warn({ turnId, conversation }, "turn lost in a daemon restart");
  }
}
