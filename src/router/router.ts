import type { AgentEvent } from "../agent/protocol.ts";
import { filesForTurn, type TurnFiles } from "../attachments/turn.ts";
import type { InboxItem, Lease } from "../inbox/index.ts";
import { ProjectError } from "../projects/operations.ts";
import { errorMessage } from "../shared/errors.ts";
import { projectIdOf } from "../vm/names.ts";
import { HostUnavailableError, NoCapacityError } from "../vm/port.ts";
import type { AgentConnection } from "./agent-connection.ts";
import { createAgentEventHandler } from "./agent-events.ts";
import { classify, isControl } from "./classify.ts";
import { runCommand } from "./commands.ts";
import { RouterContext, type RouterDeps, replyTo } from "./context.ts";
import { duration, message } from "./messages.ts";
import type { TurnRecord } from "./turn-store.ts";

// Short enough that a crashed router's conversations are picked up again quickly; renewed every third of it.
const LEASE_MS = 15_000;
const CONTROL_POLL_MS = 250;
/** A wake-up taking longer than this is announced in the chat ("waking your VM…"). */
const WAKE_NOTICE_MS = 1_000;

/** How often a waiting router checks that the agent still knows the turn it waits for. */
const TURN_CHECK_MS = 15_000;

export interface RouterOptions extends RouterDeps {
  /** Identifies this router in leases (several may share one PostgreSQL inbox). */
  readonly consumerId: string;
  /** Conversations handled at once. */
  readonly concurrency?: number;
  /** Idle poll interval when the inbox is empty (enqueues also wake the router through `kick`). */
  readonly pollMs?: number;
}

/**
 * Takes the head of each ready conversation from the inbox and handles it: the router's own commands
 * directly; messages as one turn (consecutive messages from one sender coalesced) on the sender's
 * switchboard. The inbox items are completed only once the reply is safely in the outbox; a crash before
 * that leaves the lease to expire, and the next claim resumes the same turn (see `TurnStore`).
 */
export class Router {
  readonly #ctx: RouterContext;
  readonly #options: RouterOptions;
  #running = false;
  #workers: Promise<void>[] = [];
  /** Tokens of leases found taken over while their turn was still being waited on. */
  readonly #lostLeases = new Set<string>();
  /** Idle workers' wake-up calls. */
  readonly #sleepers = new Set<() => void>();

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#ctx = new RouterContext(options);
    this.#ctx.setEventHandler(createAgentEventHandler(this.#ctx));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const n = this.#options.concurrency ?? 8;
    this.#workers = Array.from({ length: n }, () => this.#work());
  }

  /**
   * Something was enqueued: one idle worker looks now rather than at its next poll. A worker that finds
   * work wakes the next one, so a burst fans out without every enqueue waking every worker.
   */
  kick(): void {
    const [wake] = this.#sleepers;
    wake?.();
  }

  /** Stops claiming, lets handled leases finish, closes agent bridges (agents keep running). */
  async stop(): Promise<void> {
    this.#running = false;
    for (const wake of [...this.#sleepers]) wake();
    await Promise.all(this.#workers);
    await this.#ctx.closeConnections();
  }

  async #work(): Promise<void> {
    const { inbox, logger } = this.#options;
    while (this.#running) {
      // SQLite answers synchronously, so without this a worker with a backlog would starve timers and
      // sockets (webhooks, health checks) until the backlog is gone.
      await new Promise((resolve) => setImmediate(resolve));
      let lease: Lease | undefined;
      try {
        lease = await inbox.claim({ consumer: this.#options.consumerId, leaseMs: LEASE_MS, maxItems: 20 });
      } catch (error) {
        logger.error({ err: error }, "inbox claim failed");
      }
      if (!lease) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.#sleepers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, this.#options.pollMs ?? 500);
          this.#sleepers.add(wake);
        });
        continue;
      }
      this.kick(); // there may be more: let another idle worker look
      try {
        await this.#handle(lease);
      } catch (error) {
        if (error instanceof LeaseLost) {
          logger.warn(
            { conversation: lease.conversationKey },
            "lease lost while waiting; another worker has it",
          );
          continue;
        }
        if (error instanceof HostUnavailableError || error instanceof NoCapacityError) {
          // Nothing wrong with the messages: they wait (attempts untouched) until the machine answers.
          logger.warn(
            { conversation: lease.conversationKey, err: error },
            "agent unavailable; retrying later",
          );
          await inbox
            .release(lease, {
              retryInMs: unavailableRetryMs(lease, this.#ctx.now()),
              reason: errorMessage(error),
            })
            .catch(() => {});
          continue;
        }
        if (error instanceof Stopping) {
          // The turn goes on in the agent; the next start resumes it from the turn record.
          await inbox.release(lease).catch(() => {});
          continue;
        }
        logger.error({ err: error, conversation: lease.conversationKey }, "handling a conversation failed");
        const outcome = await inbox.fail(lease, errorMessage(error)).catch(() => undefined);
        if (outcome && outcome.deadLettered.length > 0) {
          // A turn whose messages are given up on is over: it must not keep its agent "busy" (awake).
          const open = await this.#options.turns.open(lease.conversationKey).catch(() => undefined);
          if (open?.itemIds.every((id) => outcome.deadLettered.includes(id))) {
            await this.#options.turns.end(open.id, "failed").catch(() => {});
          }
          const first = lease.items[0]?.event;
          if (first) {
            await this.#ctx
              .say(`dead:${lease.items[0]?.id}`, first, "turnFailed", { error: errorMessage(error) })
              .catch((e: unknown) =>
                logger.error({ err: e }, "could not tell the person about a dead letter"),
              );
          }
        }
      }
    }
  }

  async #handle(lease: Lease): Promise<void> {
    const { inbox, turns } = this.#options;
    const keepAlive = setInterval(() => {
      inbox
        .extend(lease, LEASE_MS)
        .then((held) => {
          // Someone else has the conversation now (we stalled past the lease): stop waiting, touch nothing.
          if (!held) this.#lostLeases.add(lease.token);
        })
        .catch(() => {});
    }, LEASE_MS / 3);
    try {
      const done: number[] = [];
      // A turn a previous router started on these items and did not finish: resume it, same id.
      const open = await turns.open(lease.conversationKey);
      const leased = new Set(lease.items.map((i) => i.id));
      if (open?.itemIds.every((id) => leased.has(id))) {
        const items = lease.items.filter((i) => open.itemIds.includes(i.id));
        const first = items[0]?.event;
        // Admitted when it started; the person may have been suspended or removed since. A turn already
        // answered before the crash just finishes up.
        const answered = await this.#options.outbox.has(`turn:${open.id}:final`);
        const replyKey = first?.addressedToBot ? `cmd:${open.itemIds[0]}` : undefined;
        if (!answered && (!first || !(await this.#ctx.isEnabled(first, replyKey)))) {
          // Whatever the agent is still doing for them stops too (without waking an agent that sleeps).
          await this.#ctx
            .existingConnection(open.agent)
            ?.send({ type: "interrupt", conversation: open.conversationKey })
            .catch(() => {});
          await turns.end(open.id, "failed");
          await inbox.complete(lease, [...open.itemIds]);
          return;
        }
        await this.#runTurn(lease, open, items);
        await inbox.complete(lease, [...open.itemIds]);
        return;
      }
      if (open) await turns.end(open.id, "failed"); // its items are gone: nothing to resume

      // In a conversation bound to a project, everything said there is for the project's Claude.
      const bound = (await this.#options.store.projects.bindingOf(lease.conversationKey)) !== undefined;
      const batch: InboxItem[] = [];
      for (const item of lease.items) {
        const c = classify(item.event, { bound });
        if (c.kind === "message") {
          if (batch.length > 0 && batch[0]?.event.sender.platformUserId !== item.event.sender.platformUserId)
            break;
          batch.push(item);
          continue;
        }
        if (batch.length > 0) break; // keep order: the turn first, this item on the next claim
        await this.#handleNonMessage(item);
        done.push(item.id);
      }
      if (batch.length > 0) {
        // What came before the turn is done: should the turn have to wait (its agent's host is down), the
        // lease goes back and these must not run again.
        if (done.length > 0) await inbox.complete(lease, done, { keepLease: true });
        done.push(...(await this.#startTurn(lease, batch, bound)));
      }
      await inbox.complete(lease, done);
    } finally {
      clearInterval(keepAlive);
      this.#lostLeases.delete(lease.token);
    }
  }

  async #handleNonMessage(item: InboxItem): Promise<void> {
    const c = classify(item.event);
    if (c.kind === "ignore") return;
    if (!(await this.#ctx.isEnabled(item.event, `cmd:${item.id}`))) return;
    if (c.kind === "unknown_command")
      return this.#ctx.say(`cmd:${item.id}`, item.event, "unknownCommand", { command: c.name });
    if (c.kind === "command") await runCommand(this.#ctx, item, c.name, c.args);
  }

  /** Records and runs a turn for `batch`; returns the item ids it answered. */
  async #startTurn(lease: Lease, batch: InboxItem[], bound: boolean): Promise<number[]> {
    const ids = batch.map((i) => i.id);
    const first = batch[0]?.event;
    const last = batch[batch.length - 1]?.event;
    if (!first || !last) return ids;
    const quiet = bound && !first.addressedToBot; // chatter in a bound group: never answered with refusals
    if (!(await this.#ctx.isEnabled(first, quiet ? undefined : `cmd:${ids[0]}`))) return ids;
    const { store, turns } = this.#options;
    const user = await store.identities.resolveUser({
      platform: first.platform,
      platformUserId: first.sender.platformUserId,
      displayName: first.sender.displayName ?? null,
    });
    const target = await this.#ctx.targetFor(first, user);
    if (!target.allowed) {
      // Still worth remembering: the person is in this chat (an owner adds them by name from here).
      await this.#ctx.remember(last, user);
      if (!quiet)
        await this.#ctx.say(`cmd:${ids[0]}`, first, "notMember", { project: target.project?.name ?? "" });
      return ids;
    }
    await this.#ctx.remember(last, user);
    if (target.project) {
      try {
        await this.#ctx.projects.requireEnvironment(target.project);
      } catch (error) {
        if (!(error instanceof ProjectError)) throw error;
        if (!quiet) await this.#ctx.say(`cmd:${ids[0]}`, first, error.key, error.params);
        return ids;
      }
    }
    // The freshest reply context (a LINE reply token is only good for a short while).
    const record = await turns.create({
      id: `t${ids[0]}`,
      conversationKey: first.conversation.key,
      agent: target.agent,
      userId: user.id,
      itemIds: ids,
      reply: replyTo(last, this.#ctx.language(first)),
    });
    await this.#runTurn(lease, record, batch, {
      fresh: record.createdAt >= this.#ctx.now() - 1_000 && record.attempt === 1,
    });
    return ids;
  }

  /** Sends the turn (idempotently) and waits for its end, handling control commands meanwhile. */
  async #runTurn(
    lease: Lease,
    turn: TurnRecord,
    items: readonly InboxItem[],
    options: { fresh?: boolean } = {},
  ): Promise<void> {
    const text = textOf(items);
    const { outbox, turns, agents } = this.#options;
    if (await outbox.has(`turn:${turn.id}:final`)) return; // answered before a crash; just finish up
    const connection = this.#ctx.connection(turn.agent, turn.userId);
    await this.#wake(connection, turn);
    const events: AgentEvent[] = [];
    let notify: (() => void) | undefined;
    const waiter = (event: AgentEvent) => {
      events.push(event);
      notify?.();
    };
    this.#ctx.waiters.set(turn.id, waiter);
    const deadline = this.#ctx.now() + agents.turnTimeoutMs;
    const storedSession = () => this.#options.store.conversations.sessionOf(turn.conversationKey, turn.agent);
    // The files people sent: downloaded once per turn, on the first send (src/attachments).
    let files: Promise<TurnFiles> | undefined;
    // Idempotent on the agent's side: a turn id it knows runs again only with a higher attempt.
    const sendTurn = async (attempt: number, sessionId: string | null) => {
      files ??= filesForTurn(this.#ctx, turn, items);
      const { attachments, notes } = await files;
      return connection.send({
        type: "turn",
        turnId: turn.id,
        conversation: turn.conversationKey,
        attempt,
        sessionId,
        text: [text, ...notes].filter((t) => t !== "").join("\n\n"),
        sender: { id: turn.userId },
        ...(attachments.length > 0 && { attachments }),
      });
    };
    try {
      let attempt = turn.attempt;
      // A turn recorded just now cannot be known to the agent: skip the round trip that asks.
      const state = options.fresh
        ? ({ state: "unknown", attempt: 0 } as const)
        : await connection.queryTurn(turn.id);
      if (state.state === "lost" || state.state === "failed") attempt = Math.max(attempt, state.attempt) + 1;
      if (state.state !== "running" && state.state !== "finished") {
        if (attempt > 2) return await this.#failTurn(turn, "the agent stopped twice while working on this");
        await turns.setAttempt(turn.id, attempt);
        await sendTurn(attempt, await storedSession());
      }
      let lastCheck = this.#ctx.now();
      const controlSeen = new Set<number>();
      for (;;) {
        const event = events.shift();
        if (event?.type === "turn_finished") return;
        if (event?.type === "turn_failed") {
          // A session whose transcript is gone (volume recreated) cannot be resumed: start afresh, once.
          const lostSession =
            !event.retryable && event.sessionId !== null && /No conversation found/i.test(event.message);
          if ((!event.retryable && !lostSession) || attempt >= 2)
            return await this.#failTurn(turn, event.message);
          if (lostSession) {
            this.#options.logger.warn(
              { turn: turn.id, agent: turn.agent },
              "session transcript missing; starting a new session",
            );
            await this.#options.store.conversations.setAgentSession(turn.conversationKey, turn.agent, null);
          }
          attempt += 1;
          await turns.setAttempt(turn.id, attempt);
          await sendTurn(attempt, lostSession ? null : event.sessionId);
          continue;
        }
        if (event) continue;
        if (!this.#running) throw new Stopping();
        if (this.#lostLeases.has(lease.token)) throw new LeaseLost();
        if (this.#ctx.now() - lastCheck > TURN_CHECK_MS) {
          // A turn frame can be lost with a bridge that died before passing it on; the agent then has never
          // heard of the turn and nothing would ever arrive. Ask, and send it again if so (idempotent).
          lastCheck = this.#ctx.now();
          const now = await connection.queryTurn(turn.id).catch(() => undefined);
          if (now?.state === "unknown") {
            await sendTurn(attempt, await storedSession());
          }
        }
        if (this.#ctx.now() > deadline) {
          await connection.send({ type: "interrupt", conversation: turn.conversationKey }).catch(() => {});
          await this.#ctx.reply(
            `turn:${turn.id}:final`,
            turn.reply,
            turn.conversationKey,
            message(turn.reply.language, "turnTimedOut", {
              duration: duration(turn.reply.language, agents.turnTimeoutMs),
            }),
          );
          await turns.end(turn.id, "failed");
          return;
        }
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, CONTROL_POLL_MS);
        });
        notify = undefined;
        await this.#handleControl(lease, turn, controlSeen);
      }
    } finally {
      // Only our own: a worker that took the turn over after our lease lapsed has registered its own.
      if (this.#ctx.waiters.get(turn.id) === waiter) this.#ctx.waiters.delete(turn.id);
      this.#options.runtime
        .markActive(turn.agent)
        .catch((error: unknown) =>
          this.#options.logger.warn({ err: error }, "could not record agent activity"),
        );
    }
  }

  /**
   * Attaches to the turn's agent, starting (or creating) it when it sleeps. A start that takes longer than
   * a moment is announced, and a host that does not answer is explained; the message stays in the inbox
   * and is retried (the turn record makes the retry the same turn, so each notice is posted once).
   */
  async #wake(connection: AgentConnection, turn: TurnRecord): Promise<void> {
    // Touching the agent first keeps the idle policy off it; if it fell asleep just before, the bridge we
    // hold is dying: drop it and wake the agent rather than send the turn into it.
    const awake = await this.#options.runtime.markActive(turn.agent);
    if (connection.attached && awake) return;
    if (connection.attached) await connection.detach();
    const lang = turn.reply.language;
    const project = await this.#projectName(turn.agent);
    const say = (key: string, text: string) =>
      this.#ctx.reply(`turn:${turn.id}:${key}`, turn.reply, turn.conversationKey, text);
    const notice = setTimeout(() => {
      const kind = this.#ctx.kindOf(turn.agent);
      say("waking", message(lang, "waking", { kind, project: project ?? "" })).catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, "could not post the waking notice"),
      );
    }, WAKE_NOTICE_MS);
    try {
      await connection.ready();
    } catch (error) {
      if (error instanceof HostUnavailableError) {
        const what = project ?? (lang === "zh-TW" ? "你的總機" : "your switchboard");
        await say("unavailable", message(lang, "vmUnavailable", { what, host: error.host }));
      } else if (error instanceof NoCapacityError) {
        await say("no-capacity", message(lang, "noCapacity"));
      }
      throw error;
    } finally {
      clearTimeout(notice);
    }
  }

  async #projectName(agent: string): Promise<string | undefined> {
    const projectId = projectIdOf(agent);
    return projectId === undefined ? undefined : (await this.#options.store.projects.get(projectId))?.name;
  }

  /** /cancel, /approve, /deny and /status act on the running turn instead of waiting behind it. */
  /**
   * Control commands among the items waiting behind the turn: those claimed with it (e.g. an `/approve`
   * sent while a restarted router was down) and those that arrived since. Each is handled once.
   */
  async #handleControl(lease: Lease, turn: TurnRecord, seen: Set<number>): Promise<void> {
    const claimedBehind = lease.items.filter((i) => !turn.itemIds.includes(i.id));
    const arrived = await this.#options.inbox.arrivedSince(lease);
    const handled: number[] = [];
    for (const item of [...claimedBehind, ...arrived]) {
      if (seen.has(item.id) || !isControl(classify(item.event))) continue;
      seen.add(item.id);
      await this.#handleNonMessage(item);
      handled.push(item.id);
    }
    if (handled.length > 0) await this.#options.inbox.complete(lease, handled, { keepLease: true });
  }

  async #failTurn(turn: TurnRecord, error: string): Promise<void> {
    await this.#ctx.reply(
      `turn:${turn.id}:final`,
      turn.reply,
      turn.conversationKey,
      message(turn.reply.language, "turnFailed", { error }),
    );
    await this.#options.turns.end(turn.id, "failed");
  }
}

class Stopping extends Error {}
class LeaseLost extends Error {}

function textOf(items: readonly InboxItem[]): string {
  return items
    .map((i) => {
      const c = classify(i.event, { bound: true });
      return c.kind === "message" ? c.text : "";
    })
    .filter((t) => t !== "")
    .join("\n\n");
}

/**
 * How long messages for an agent whose host is down (or a full pool) wait before the next try: a quarter
 * of how long they have waited so far, between 10 s and 5 min, so a short outage costs seconds and a long
 * one does not poll the engine all day.
 */
function unavailableRetryMs(lease: Lease, now: number): number {
  const oldest = Math.min(...lease.items.map((i) => i.event.receivedAt));
  return Math.min(300_000, Math.max(10_000, Math.round((now - oldest) / 4)));
}
