import type { Kysely } from "kysely";
import { pino } from "pino";
import type { ReplyContext } from "../../ingress/event.ts";
import type { Logger } from "../../shared/logger.ts";
import type { Platform } from "../../store/port.ts";
import type { Database } from "../../store/schema.ts";
import { failureOf } from "../errors.ts";
import type { RateGovernor } from "../governor.ts";
import type { LiveMessage, LiveRef, OutboundMessage, PlatformSender } from "../port.ts";

/** Where a turn's reply goes: what the live stream needs to address it. */
export interface TurnTarget {
  readonly platform: Platform;
  readonly conversationKey: string;
  readonly reply: ReplyContext;
  readonly inboundReceivedAt: number;
  /** The platform user id of the person answered (Slack streams in channels need it). */
  readonly recipient?: string | undefined;
}

/** What the router tells the live replies about a turn (an extension of its `StreamSink`). */
export interface TurnStreamSink {
  delta(conversationKey: string, turnId: string, text: string): void;
  /** The agent started working on the turn: show a typing or loading indicator. */
  started?(conversationKey: string, turnId: string): void;
  /** The turn ended (answered or not): stop the indicator and any further update. */
  ended?(conversationKey: string, turnId: string): void;
  /**
   * The turn is being tried again (same id): what it said so far is dropped, the next text replaces it in
   * the same message.
   */
  restarted?(conversationKey: string, turnId: string): void;
}

export interface LiveRepliesOptions {
  readonly db: Kysely<Database>;
  readonly senders: ReadonlyMap<Platform, PlatformSender>;
  readonly governor: RateGovernor;
  /** The reply target of a turn (from the router's turn record). */
  readonly target: (turnId: string) => Promise<TurnTarget | undefined>;
  readonly logger?: Logger;
  /** Timeout of one update call. Default 10 s. */
  readonly callTimeoutMs?: number;
  /** An indicator is not renewed past this (a turn that never reports its end). Default 30 min. */
  readonly maxTypingMs?: number;
  /** Ceiling on a platform's `retry_after` (as the dispatcher's). Default 15 min. */
  readonly maxRetryAfterMs?: number;
  readonly now?: () => number;
}

interface Stream {
  readonly turnId: string;
  readonly conversationKey: string;
  text: string;
  shown: string;
  live: LiveMessage | undefined;
  loaded: Promise<TurnTarget | undefined> | undefined;
  running: Promise<void> | undefined;
  closed: boolean;
  /** Streaming given up for this turn (refused by the platform): the final answer is posted normally. */
  failed: boolean;
  typing: NodeJS.Timeout | undefined;
  typingUntil: number;
  /** Aborted when the stream closes: an update waiting for its turn under the governor gives up. */
  readonly abort: AbortController;
}

/**
 * Shows replies while they are written, on every platform that can (see each sender's `live`): text
 * deltas accumulate per turn, and one update loop per turn sends the latest text whenever the governor
 * allows, so edits coalesce (the newest text wins; there is never a backlog of edits). The message's handle
 * is kept in `live_messages`, so after a restart the same message goes on being edited, and the turn's
 * final reply (outbox, `extras.stream`) takes it over through `close` instead of posting a second one.
 */
export class LiveReplies implements TurnStreamSink {
  readonly #options: LiveRepliesOptions;
  readonly #streams = new Map<string, Stream>();
  readonly #log: Logger;
  readonly #now: () => number;

  constructor(options: LiveRepliesOptions) {
    this.#options = options;
    this.#log = (options.logger ?? pino({ level: "silent" })).child({ component: "live-replies" });
    this.#now = options.now ?? Date.now;
  }

  started(conversationKey: string, turnId: string): void {
    const stream = this.#stream(conversationKey, turnId);
    // A turn that starts again (a retry) begins a new text, shown in the same message.
    if (stream.text !== "") this.restarted(conversationKey, turnId);
    if (stream.closed || stream.typing) return;
    void this.#load(stream).then((target) => {
      if (!target || stream.closed || stream.typing) return;
      const sender = this.#options.senders.get(target.platform);
      const live = sender?.live;
      if (!live?.typing) return;
      stream.typingUntil = this.#now() + (this.#options.maxTypingMs ?? 30 * 60_000);
      const tick = () => {
        // Once text shows, a streaming platform needs no indicator; LINE keeps its animation to the end.
        const visible = stream.shown !== "" && live.streams(this.#message(stream, target));
        if (stream.closed || visible || this.#now() > stream.typingUntil) {
          clearInterval(stream.typing);
          return;
        }
        void this.#typing(stream, target, sender);
      };
      stream.typing = setInterval(tick, live.typingEveryMs ?? 5_000);
      stream.typing.unref();
      tick();
    });
  }

  delta(conversationKey: string, turnId: string, text: string): void {
    const stream = this.#stream(conversationKey, turnId);
    if (stream.closed || stream.failed) return;
    stream.text += text;
    stream.running ??= this.#pump(stream).finally(() => {
      stream.running = undefined;
      // Text that came in while the loop was finishing.
      if (!stream.closed && !stream.failed && stream.text !== "" && stream.text !== stream.shown)
        this.delta(conversationKey, turnId, "");
    });
  }

  restarted(_conversationKey: string, turnId: string): void {
    const stream = this.#streams.get(turnId);
    // The message handle (`live`) is kept: the new attempt's text replaces the old one in place.
    if (stream) stream.text = "";
  }

  ended(_conversationKey: string, turnId: string): void {
    const stream = this.#streams.get(turnId);
    if (!stream) return;
    this.#shut(stream);
    // Forget it once its last update is done (close() may still want the handle before that).
    void (stream.running ?? Promise.resolve()).then(() => {
      setTimeout(() => this.#streams.delete(turnId), 60_000).unref();
    });
  }

  /**
   * Stops updating `streamKey` (a turn id), waits for an update in flight, marks the message final and
   * returns it, for the final reply to replace. Undefined when nothing was streamed.
   */
  async close(streamKey: string): Promise<LiveMessage | undefined> {
    const stream = this.#streams.get(streamKey);
    if (stream) {
      this.#shut(stream);
      await stream.running;
    }
    const row = await this.#options.db
      .selectFrom("live_messages")
      .selectAll()
      .where("stream_key", "=", streamKey)
      .executeTakeFirst();
    if (!row) return stream?.live;
    if (row.status === "live") {
      await this.#options.db
        .updateTable("live_messages")
        .set({ status: "final", updated_at: this.#now() })
        .where("stream_key", "=", streamKey)
        .execute();
    }
    return { streamKey, ref: JSON.parse(row.ref) as LiveRef, text: row.text };
  }

  /** Stops every stream (shutdown): no further update or indicator; resolves when updates in flight end. */
  async stop(): Promise<void> {
    const streams = [...this.#streams.values()];
    for (const stream of streams) this.#shut(stream);
    await Promise.allSettled(streams.map((s) => s.running));
    this.#streams.clear();
  }

  #shut(stream: Stream): void {
    stream.closed = true;
    clearInterval(stream.typing);
    stream.abort.abort(new Error("the live reply is closed"));
  }

  /**
   * Whether the turn's answer has taken over its message (here or in another process): the live row is
   * final, or the final reply is in the outbox. A stale update must never overwrite the final answer.
   */
  async #over(turnId: string): Promise<boolean> {
    const { db } = this.#options;
    const row = await db
      .selectFrom("live_messages")
      .select("status")
      .where("stream_key", "=", turnId)
      .executeTakeFirst();
    if (row?.status === "final") return true;
    const final = await db
      .selectFrom("outbox")
      .select("id")
      .where("idempotency_key", "=", `turn:${turnId}:final`)
      .executeTakeFirst();
    return final !== undefined;
  }

  #stream(conversationKey: string, turnId: string): Stream {
    let stream = this.#streams.get(turnId);
    if (!stream) {
      stream = {
        turnId,
        conversationKey,
        text: "",
        shown: "",
        live: undefined,
        loaded: undefined,
        running: undefined,
        closed: false,
        failed: false,
        typing: undefined,
        typingUntil: 0,
        abort: new AbortController(),
      };
      this.#streams.set(turnId, stream);
    }
    return stream;
  }

  /** The turn's target and, after a restart, the message it was streaming into. */
  #load(stream: Stream): Promise<TurnTarget | undefined> {
    stream.loaded ??= (async () => {
      const target = await this.#options.target(stream.turnId);
      const row = await this.#options.db
        .selectFrom("live_messages")
        .selectAll()
        .where("stream_key", "=", stream.turnId)
        .executeTakeFirst();
      if (row?.status === "final") stream.closed = true;
      else if (row)
        stream.live = { streamKey: stream.turnId, ref: JSON.parse(row.ref) as LiveRef, text: row.text };
      return target;
    })().catch((error: unknown) => {
      this.#log.warn(
        { err: failureOf(error).message, turn: stream.turnId },
        "could not look up a turn to stream",
      );
      stream.loaded = undefined;
      return undefined;
    });
    return stream.loaded;
  }

  async #pump(stream: Stream): Promise<void> {
    const target = await this.#load(stream);
    const sender = target && this.#options.senders.get(target.platform);
    if (!target || !sender?.live?.streams(this.#message(stream, target))) {
      // Nothing to show while it is written (LINE, no sender, unknown turn): the final answer says it all.
      stream.failed = true;
      return;
    }
    const message = this.#message(stream, target);
    const { governor } = this.#options;
    let transientFailures = 0;
    while (!stream.closed && !stream.failed && stream.text !== stream.shown) {
      let release: () => void;
      try {
        release = await governor.acquire(
          governor.pacesFor(target.platform, target.reply, "edit"),
          stream.abort.signal,
        );
      } catch {
        return; // closed while waiting
      }
      try {
        if (stream.closed) return;
        if (await this.#over(stream.turnId)) {
          stream.closed = true;
          return;
        }
        const snapshot = stream.text;
        if (snapshot === "") return; // restarted: the new attempt's first delta starts the loop again
        // Not aborted by close(): a call that may have reached the platform must finish, so its message
        // is known to the final answer (which would otherwise post a second one).
        const signal = AbortSignal.timeout(this.#options.callTimeoutMs ?? 10_000);
        const ref = await sender.live.update(message, stream.live, snapshot, signal);
        stream.shown = snapshot;
        stream.live = { streamKey: stream.turnId, ref, text: snapshot };
        await this.#save(stream, target);
        transientFailures = 0;
      } catch (error) {
        const failure = failureOf(error);
        if (stream.closed) return;
        if (failure.kind === "rate_limited") {
          const wait = Math.min(failure.retryAfterMs ?? 1_000, this.#options.maxRetryAfterMs ?? 15 * 60_000);
          governor.penalizeFor(target.platform, target.reply, failure.scope, this.#now() + wait);
          this.#log.warn({ turn: stream.turnId, retryAfterMs: wait }, "live update rate limited");
        } else if (failure.kind === "permanent" || ++transientFailures >= 3) {
          // The final answer still goes out through the outbox; only the preview is given up.
          stream.failed = true;
          this.#log.warn(
            { turn: stream.turnId, err: failure.message },
            "live updates given up for this turn",
          );
        }
      } finally {
        release();
      }
    }
  }

  async #save(stream: Stream, target: TurnTarget): Promise<void> {
    const live = stream.live;
    if (!live) return;
    const now = this.#now();
    const ref = JSON.stringify(live.ref);
    await this.#options.db
      .insertInto("live_messages")
      .values({
        stream_key: stream.turnId,
        platform: target.platform,
        conversation_key: target.conversationKey,
        ref,
        text: live.text,
        status: "live",
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .column("stream_key")
          .doUpdateSet({ ref, text: live.text, updated_at: now })
          .where("live_messages.status", "=", "live"),
      )
      .execute();
  }

  async #typing(stream: Stream, target: TurnTarget, sender: PlatformSender | undefined): Promise<void> {
    const live = sender?.live;
    if (!live?.typing) return;
    const { governor } = this.#options;
    const release = await governor.acquire(governor.pacesFor(target.platform, target.reply, "typing"));
    try {
      if (!stream.closed) await live.typing(this.#message(stream, target), AbortSignal.timeout(5_000));
    } catch (error) {
      this.#log.debug({ turn: stream.turnId, err: failureOf(error).message }, "typing indicator failed");
    } finally {
      release();
    }
  }

  /** The reply as the senders see it (the final one will carry the same key and target). */
  #message(stream: Stream, target: TurnTarget): OutboundMessage {
    return {
      idempotencyKey: `turn:${stream.turnId}:final`,
      platform: target.platform,
      conversationKey: target.conversationKey,
      reply: target.reply,
      inboundReceivedAt: target.inboundReceivedAt,
      text: stream.text,
      extras: { stream: stream.turnId, recipient: target.recipient },
    };
  }
}
