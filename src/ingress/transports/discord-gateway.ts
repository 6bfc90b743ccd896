import { REST } from "@discordjs/rest";
import {
  CloseCodes,
  Encoding,
  type SessionInfo,
  WebSocketManager,
  type WebSocketShard,
  WebSocketShardDestroyRecovery,
  WebSocketShardEvents,
  WebSocketShardStatus,
} from "@discordjs/ws";
import { GatewayDispatchEvents, type GatewayDispatchPayload, GatewayIntentBits } from "discord-api-types/v10";
import { z } from "zod";
import type { Inbox } from "../../inbox/port.ts";
import type { Logger } from "../../shared/logger.ts";
import type { KeyValueRepository } from "../../store/port.ts";
import { parseDiscordGatewayMessage } from "../platforms/discord.ts";
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, describeError, sleep } from "./backoff.ts";
import { ShardTracker } from "./discord-shards.ts";
import type { InboundTransport } from "./types.ts";

/**
 * The Discord Gateway through `@discordjs/ws` (one shard), for ordinary messages (MESSAGE_CREATE).
 *
 * Dispatches are handled one at a time in sequence order: parse, enqueue, and only then advance the resume
 * cursor, the session's `sequence`. The cursor is what the library resumes from (it reads it through
 * `retrieveSessionInfo`) and it is stored in `transport_state` after every stored message, so a RESUME, in
 * this process or after a restart, asks Discord to replay everything after the last durable message. The
 * library itself reports every *received* sequence to `updateSessionInfo`; that is deliberately not taken
 * as the cursor. When an enqueue fails, everything queued behind it is discarded and the shard is made to
 * resume from the cursor (after a backoff), so Discord replays the failed message and its successors; the
 * inbox dedupes whatever is replayed twice.
 *
 * Limits: a session Discord invalidates (op 9, close 1000, or the library giving up on the resume URL after
 * a network error) cannot replay; messages between the cursor and the new session are not recovered.
 */
export interface DiscordGatewayOptions {
  readonly botToken: string;
  /** REST base, e.g. `https://discord.com/api` (the client appends `/v10`). */
  readonly apiUrl: string;
  /** The bot's user id, to drop its own messages and spot mentions. */
  readonly applicationId?: string | undefined;
  readonly inbox: Pick<Inbox, "enqueue">;
  /** Where the resume cursor lives (`store.transportState`). */
  readonly state: KeyValueRepository;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly backoff?: BackoffOptions;
  /** REST timeout (`GET /gateway/bot`). Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** WebSocket handshake, HELLO and READY timeouts. Defaults 30 s, 60 s, 15 s. */
  readonly handshakeTimeoutMs?: number;
  readonly helloTimeoutMs?: number;
  readonly readyTimeoutMs?: number;
}

const SHARD_ID = 0;
const SHARD_COUNT = 1;
export const discordSessionKey = (shardId: number): string => `discord:gateway:${shardId}`;

const INTENTS =
  GatewayIntentBits.Guilds |
  GatewayIntentBits.GuildMessages |
  GatewayIntentBits.DirectMessages |
  GatewayIntentBits.MessageContent;

const StoredSession = z.object({
  sessionId: z.string().min(1),
  resumeURL: z.string().min(1),
  sequence: z.number().int().nonnegative(),
  shardId: z.number().int(),
  shardCount: z.number().int(),
});

interface QueuedDispatch {
  readonly type: string;
  readonly seq: number;
  readonly data: unknown;
  readonly sessionId: string | undefined;
  readonly epoch: number;
  readonly receivedAt: number;
}

export class DiscordGatewayTransport implements InboundTransport {
  readonly name = "discord-gateway";
  readonly #options: DiscordGatewayOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #backoff: BackoffOptions;
  readonly #rest: REST;
  readonly #manager: WebSocketManager;
  #shards: ShardTracker | undefined;
  /** What the library resumes from; `sequence` is the last dispatch handled (durable, for messages). */
  #session: SessionInfo | null = null;
  /** The highest sequence emitted in the current session, handled or not. */
  #highestSeen = 0;
  /** After a failed enqueue, until the replay starts: dispatches still arriving come again after the resume. */
  #awaitingReplay = false;
  /** Bumped when queued dispatches must be discarded (failed enqueue, stop). */
  #epoch = 0;
  #chain: Promise<void> = Promise.resolve();
  /** Connections closed since the last READY/RESUMED; drives the reconnect backoff. */
  #closes = 0;
  #enqueueFailures = 0;
  #stopped = false;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: DiscordGatewayOptions) {
    this.#options = options;
    this.#log = options.logger.child({ transport: this.name });
    this.#now = options.now ?? Date.now;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#rest = new REST({
      api: options.apiUrl.replace(/\/+$/, ""),
      version: "10",
      timeout: options.requestTimeoutMs ?? 10_000,
      retries: 1,
    }).setToken(options.botToken);
    this.#manager = new WebSocketManager({
      token: options.botToken,
      intents: INTENTS,
      rest: this.#rest,
      shardCount: SHARD_COUNT,
      shardIds: [SHARD_ID],
      version: "10",
      encoding: Encoding.JSON,
      compression: null,
      handshakeTimeout: options.handshakeTimeoutMs ?? 30_000,
      helloTimeout: options.helloTimeoutMs ?? 60_000,
      readyTimeout: options.readyTimeoutMs ?? 15_000,
      retrieveSessionInfo: (shardId) => this.#retrieveSession(shardId),
      updateSessionInfo: (_shardId, info) => this.#updateSession(info),
      buildStrategy: (manager) => {
        this.#shards = new ShardTracker(manager, (shard) => this.#attach(shard));
        return this.#shards;
      },
    });
  }

  async start(): Promise<void> {
    if (this.#loop !== undefined || this.#stopping !== undefined)
      throw new Error(`${this.name} already started`);
    const saved = StoredSession.safeParse(await this.#options.state.get(discordSessionKey(SHARD_ID)));
    if (saved.success && saved.data.shardCount === SHARD_COUNT) {
      this.#session = saved.data;
      this.#highestSeen = saved.data.sequence;
      this.#log.info({ sequence: saved.data.sequence }, "resuming the stored Discord Gateway session");
    }
    this.#loop = this.#connect(this.#abort.signal);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true;
    this.#epoch += 1;
    this.#abort.abort();
    await this.#loop;
    // Not 1000: Discord keeps the session, so the next start RESUMEs and gets what arrived meanwhile.
    await this.#shards?.shutdown({ code: CloseCodes.Resuming, reason: "shutting down" });
    await this.#chain;
    this.#rest.clearHashSweeper();
    this.#rest.clearHandlerSweeper();
    this.#log.info("Discord Gateway stopped; the session stays resumable");
  }

  /**
   * The first connection, retried with backoff while it fails outright (REST errors, bad token). Once a
   * shard has connected, the library reconnects and resumes by itself.
   */
  async #connect(signal: AbortSignal): Promise<void> {
    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    for (let attempt = 1; !signal.aborted; attempt += 1) {
      try {
        await Promise.race([this.#manager.connect(), stopped]);
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (isTokenRejection(error)) {
          // @discordjs/rest forgets a token Discord refused, and retrying it only counts toward a ban.
          this.#log.error(`${explain(error)}; the Gateway stays off until a restart`);
          return;
        }
        const delay = backoffDelay(attempt, this.#backoff);
        this.#log.error({ retryInMs: delay }, `cannot connect to the Discord Gateway: ${explain(error)}`);
        await sleep(delay, signal);
      }
    }
  }

  #attach(shard: WebSocketShard): void {
    shard.on(WebSocketShardEvents.Dispatch, (payload) => this.#onDispatch(payload));
    shard.on(WebSocketShardEvents.Ready, () => {
      this.#closes = 0;
      this.#log.info(
        { sessionId: this.#session?.sessionId },
        "connected to the Discord Gateway (new session)",
      );
    });
    shard.on(WebSocketShardEvents.Resumed, () => {
      this.#closes = 0;
      this.#log.info({ sequence: this.#session?.sequence }, "resumed the Discord Gateway session");
    });
    shard.on(WebSocketShardEvents.Closed, (code) => {
      if (this.#shards?.destroying === true) return;
      this.#closes += 1;
      this.#log.info({ code, closes: this.#closes }, "Discord Gateway connection closed");
    });
    shard.on(WebSocketShardEvents.Error, (error) => this.#log.error(explain(error)));
    shard.on(WebSocketShardEvents.SocketError, (error) =>
      this.#log.warn({ error: describeError(error) }, "Discord Gateway socket error"),
    );
    shard.on(WebSocketShardEvents.Debug, (message) => this.#log.trace({ debug: message }, "gateway"));
  }

  /**
   * Called by the library on every heartbeat and dispatch (on a live connection) and before opening a
   * connection (shard Idle). Answers synchronously on live connections, which keeps the library's handling
   * of back-to-back frames in order. Before a connection it applies the reconnect backoff, and after stop()
   * it never answers, parking a reconnect the library had already scheduled instead of letting it connect.
   */
  #retrieveSession(shardId: number): SessionInfo | null | Promise<SessionInfo | null> {
    const status = this.#shards?.shard(shardId)?.status ?? WebSocketShardStatus.Idle;
    if (status !== WebSocketShardStatus.Idle) return this.#session;
    if (this.#stopped) return new Promise(() => {});
    if (this.#closes < 2) return this.#session;
    const delay = backoffDelay(this.#closes - 1, this.#backoff);
    this.#log.info({ retryInMs: delay }, "Discord Gateway keeps closing; waiting before reconnecting");
    return sleep(delay, this.#abort.signal).then(() =>
      this.#stopped ? new Promise(() => {}) : this.#session,
    );
  }

  #updateSession(info: SessionInfo | null): void {
    if (info === null) {
      // Our own destroy (stop, retry) keeps the session to resume; the library clears it when Discord
      // invalidated it, and then identifies anew.
      if (this.#shards?.destroying === true || this.#session === null) return;
      this.#log.warn("the Discord Gateway session ended; identifying anew (no replay of what was missed)");
      this.#session = null;
      return;
    }
    if (this.#session === null || info.sessionId !== this.#session.sessionId) {
      this.#session = { ...info };
      return;
    }
    // The library reports each received sequence; the cursor moves only in #process.
    this.#session = { ...info, sequence: this.#session.sequence };
  }

  #onDispatch(payload: GatewayDispatchPayload): void {
    const seq = payload.s;
    if (payload.t === GatewayDispatchEvents.Ready || payload.t === GatewayDispatchEvents.Resumed) {
      this.#awaitingReplay = false;
    } else if (this.#awaitingReplay) {
      // A sequence above everything seen is the old connection still talking; it comes again in the replay.
      if (seq > this.#highestSeen) {
        this.#highestSeen = seq;
        return;
      }
      this.#awaitingReplay = false;
    }
    this.#highestSeen = payload.t === GatewayDispatchEvents.Ready ? seq : Math.max(this.#highestSeen, seq);
    const item: QueuedDispatch = {
      type: payload.t,
      seq,
      data: payload.d,
      sessionId: this.#session?.sessionId,
      epoch: this.#epoch,
      receivedAt: this.#now(),
    };
    this.#chain = this.#chain.then(() => this.#process(item));
  }

  /** Never rejects: it runs on the dispatch chain. */
  async #process(item: QueuedDispatch): Promise<void> {
    if (item.epoch !== this.#epoch) return;
    if (item.type !== GatewayDispatchEvents.MessageCreate) {
      await this.#advance(item, item.type === GatewayDispatchEvents.Ready);
      return;
    }
    const ctx = { receivedAt: item.receivedAt, applicationId: this.#options.applicationId };
    let outcome: ReturnType<typeof parseDiscordGatewayMessage>;
    try {
      outcome = parseDiscordGatewayMessage(item.data, ctx);
    } catch (error) {
      outcome = { ok: false, reason: describeError(error) };
    }
    if (!outcome.ok) {
      // Replaying it would not change it; it is skipped like any dispatch we do not handle.
      this.#log.warn({ seq: item.seq, reason: outcome.reason }, "skipping a malformed MESSAGE_CREATE");
      await this.#advance(item, false);
      return;
    }
    if (outcome.events.length === 0) {
      await this.#advance(item, false);
      return;
    }
    try {
      await this.#options.inbox.enqueue(outcome.events);
    } catch (error) {
      await this.#replayFrom(item, error);
      return;
    }
    this.#enqueueFailures = 0;
    await this.#advance(item, true);
  }

  /** Moves the cursor to this dispatch (if it belongs to the current session) and, if asked, stores it. */
  async #advance(item: QueuedDispatch, persist: boolean): Promise<void> {
    const session = this.#session;
    if (session === null || session.sessionId !== item.sessionId) return;
    if (item.seq > session.sequence) this.#session = { ...session, sequence: item.seq };
    if (!persist || this.#session === null) return;
    try {
      await this.#options.state.set(discordSessionKey(SHARD_ID), this.#session);
    } catch (error) {
      this.#log.warn(
        { error: describeError(error) },
        "could not store the Gateway resume cursor; a restart replays more, and the inbox drops the repeats",
      );
    }
  }

  async #replayFrom(item: QueuedDispatch, error: unknown): Promise<void> {
    this.#enqueueFailures += 1;
    this.#epoch += 1;
    this.#awaitingReplay = true;
    const delay = backoffDelay(this.#enqueueFailures, this.#backoff);
    this.#log.error(
      { seq: item.seq, cursor: this.#session?.sequence, retryInMs: delay, error: describeError(error) },
      "could not store a Discord message; resuming from the last stored one so Discord replays it",
    );
    // Waiting here holds the chain, whose queued dispatches are all discarded anyway.
    await sleep(delay, this.#abort.signal);
    if (this.#stopped) return;
    const shard = this.#shards?.shard(SHARD_ID);
    // On an Idle shard (the library is already reconnecting) this does nothing, and that reconnect resumes
    // from the same cursor.
    shard
      ?.destroy({
        reason: "replaying dispatches that were not stored",
        recover: WebSocketShardDestroyRecovery.Resume,
      })
      .catch((cause: unknown) =>
        this.#log.warn({ error: describeError(cause) }, "could not restart the shard"),
      );
  }
}

const ApiError = z.object({ status: z.number() }).loose();

/** A 401 from REST or the Gateway's 4004 (which the library reports as "Authentication failed"). */
function isTokenRejection(error: unknown): boolean {
  return describeError(error) === "Authentication failed" || ApiError.safeParse(error).data?.status === 401;
}

function explain(error: unknown): string {
  const message = describeError(error);
  if (isTokenRejection(error)) return `Discord rejected the bot token (${message}): check DISCORD_BOT_TOKEN`;
  if (message === "Used disallowed intents") {
    return "Discord refused the privileged Message Content intent: enable it for the bot in the Developer Portal";
  }
  return message;
}
