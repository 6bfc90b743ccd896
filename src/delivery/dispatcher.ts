import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { pino } from "pino";
import { abortable } from "../shared/abort.ts";
import type { Logger } from "../shared/logger.ts";
import type { Platform } from "../store/port.ts";
import { failureOf, truncate } from "./errors.ts";
import { RateGovernor } from "./governor.ts";
import { DEFAULT_ATTACH_AFTER_CHUNKS, planDelivery, type ReplyFile } from "./long-answer.ts";
import type { ChunkOutcome, ClaimedMessage, LiveMessage, OutboxQueue, PlatformSender } from "./port.ts";

export interface OutboxDispatcherOptions {
  readonly outbox: OutboxQueue;
  readonly senders: ReadonlyMap<Platform, PlatformSender>;
  readonly logger?: Logger;
  /** Names this dispatcher in leases. Default `<host>:<pid>:<random>`. */
  readonly owner?: string;
  /** Messages (so conversations) sent at once. Default 8. */
  readonly concurrency?: number;
  /** How often the outbox is looked at when nothing kicks the dispatcher. Default 1 s. */
  readonly pollIntervalMs?: number;
  /**
   * How long a claimed message is this dispatcher's before another may take it over (after a crash);
   * renewed after every chunk. Must exceed `sendTimeoutMs`. Default 60 s.
   */
  readonly leaseMs?: number;
  /** Timeout of each chunk's call to the platform. Default 20 s. */
  readonly sendTimeoutMs?: number;
  /** Tries before a message that keeps failing transiently (5xx, network, timeout) is marked failed. Default 8. */
  readonly maxAttempts?: number;
  /** Delay before retry n (n from 1) after a transient failure. Default 1 s doubling to 5 min, ±20 % jitter. */
  readonly backoff?: (attempt: number) => number;
  /** Ceiling on a platform's `retry_after`, so a bogus value cannot stall a conversation for hours. Default 15 min. */
  readonly maxRetryAfterMs?: number;
  readonly now?: () => number;
  /** Paces every call per chat and per bot; shared with the live replies. Default: a governor of its own. */
  readonly governor?: RateGovernor;
  /** Hands over the message a turn streamed into, for its final reply to replace (see `LiveReplies`). */
  readonly closeLive?: (streamKey: string) => Promise<LiveMessage | undefined>;
  /**
   * A reply longer than this many chunks goes out as a short head plus the whole text as a file, where the
   * platform's sender can upload files (0: never). Default 3.
   */
  readonly attachAfterChunks?: number;
}

export function defaultDeliveryBackoff(attempt: number): number {
  const base = Math.min(1_000 * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Sends what the outbox holds. Each claim is the oldest unsent message of one conversation, so a
 * conversation's messages go out in order while different conversations go out in parallel (up to
 * `concurrency`). A message is sent chunk by chunk; after each chunk the count is recorded, so a
 * dispatcher that dies mid-message is succeeded (once its lease expires) by one that resumes with the next
 * chunk. Failures: rate limited → retried after the platform's wait; permanent → marked failed, and the
 * conversation moves on; transient → retried with backoff, then failed after `maxAttempts`.
 */
export class OutboxDispatcher {
  readonly #outbox: OutboxQueue;
  readonly #senders: ReadonlyMap<Platform, PlatformSender>;
  readonly #log: Logger;
  readonly #owner: string;
  readonly #concurrency: number;
  readonly #pollIntervalMs: number;
  readonly #leaseMs: number;
  readonly #sendTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #backoff: (attempt: number) => number;
  readonly #maxRetryAfterMs: number;
  readonly #now: () => number;
  readonly #governor: RateGovernor;
  readonly #closeLive: ((streamKey: string) => Promise<LiveMessage | undefined>) | undefined;
  readonly #attachAfterChunks: number;
  readonly #stopSignal = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  /** Outbox ids being sent here: never claimed again meanwhile, even if their lease ran out. */
  readonly #inFlightIds = new Set<number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #stopRequested = false;
  #kicked = false;
  #wake: (() => void) | undefined;

  constructor(options: OutboxDispatcherOptions) {
    this.#outbox = options.outbox;
    this.#senders = options.senders;
    this.#owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#log = (options.logger ?? pino({ level: "silent" })).child({ component: "delivery" });
    this.#concurrency = options.concurrency ?? 8;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 20_000;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#backoff = options.backoff ?? defaultDeliveryBackoff;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#governor = options.governor ?? new RateGovernor({}, this.#now);
    this.#closeLive = options.closeLive;
    this.#attachAfterChunks = options.attachAfterChunks ?? DEFAULT_ATTACH_AFTER_CHUNKS;
    if (this.#leaseMs <= this.#sendTimeoutMs) throw new RangeError("leaseMs must exceed sendTimeoutMs");
  }

  /** Starts sending; a second call does nothing. */
  start(): void {
    if (this.#stopRequested) throw new Error("a stopped dispatcher cannot be restarted");
    this.#loop ??= this.#run();
  }

  /**
   * Stops claiming, lets each send in flight finish its current chunk, gives the rest of its message back
   * to the outbox (the next dispatcher resumes with the following chunk), and resolves when all is settled.
   * Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopRequested = true;
      this.#stopSignal.abort(new Error("the dispatcher is stopping"));
      this.#wakeUp();
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      await this.#loop;
      await Promise.allSettled([...this.#inFlight]);
    })();
    return this.#stopping;
  }

  /** Looks at the outbox now instead of at the next poll (call it after enqueueing). */
  kick(): void {
    this.#wakeUp();
  }

  async #run(): Promise<void> {
    while (!this.#stopRequested) {
      // SQLite answers synchronously, so without this a busy loop would never let timers or sockets run.
      await new Promise((resolve) => setImmediate(resolve));
      this.#kicked = false;
      const free = this.#concurrency - this.#inFlight.size;
      if (free > 0) {
        let claimed: ClaimedMessage[] = [];
        try {
          claimed = await this.#outbox.claim({
            owner: this.#owner,
            leaseMs: this.#leaseMs,
            limit: free,
            exclude: [...this.#inFlightIds],
          });
        } catch (error) {
          this.#log.error({ err: failureOf(error).message }, "claiming from the outbox failed");
        }
        for (const claim of claimed) this.#track(claim.id, this.#deliver(claim));
        // A full batch may mean more is due: claim again (or wait for a free slot).
        if (claimed.length > 0 && claimed.length === free) continue;
      }
      if (this.#kicked || this.#stopRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#pollIntervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Ends the loop's sleep, or (when it is busy claiming) makes it look again instead of sleeping. */
  #wakeUp(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Wakes the loop at `at`, when a message this dispatcher put back becomes due. */
  #wakeAt(at: number): void {
    if (this.#stopRequested) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.kick();
      },
      Math.max(0, at - this.#now()),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  #track(id: number, delivery: Promise<void>): void {
    this.#inFlight.add(delivery);
    this.#inFlightIds.add(id);
    void delivery.finally(() => {
      this.#inFlight.delete(delivery);
      this.#inFlightIds.delete(id);
      this.#wakeUp();
    });
  }

  /**
   * Sends one claimed message from its next unsent chunk. Never rejects. The lease is renewed while the
   * message waits (for the live message to close, for the chat's turn under the governor) and checked right
   * before each send, so a message whose lease was lost is never sent by two dispatchers.
   */
  async #deliver(claim: ClaimedMessage): Promise<void> {
    const log = this.#log.child({
      outboxId: claim.id,
      key: claim.idempotencyKey,
      platform: claim.platform,
      conversation: claim.conversationKey,
    });
    const lost = new AbortController();
    const keeper = setInterval(
      () => {
        this.#outbox.extendLease(claim, this.#leaseMs).then(
          (held) => {
            if (!held) lost.abort(new Error("the lease was lost"));
          },
          () => {}, // the store is down: the check before the next send decides
        );
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    );
    keeper.unref();
    const waiting = AbortSignal.any([this.#stopSignal.signal, lost.signal]);
    // Gives the message back untouched (nothing of this try reached the platform), due at `at`.
    const putBack = async (at: number) => {
      await this.#outbox.retryLater(claim, { at, error: null, countTry: false });
      if (at > this.#now()) this.#wakeAt(at);
    };
    try {
      const sender = this.#senders.get(claim.platform);
      if (!sender) {
        await this.#fail(
          claim,
          `no ${claim.platform} sender: the platform's bot token is not configured`,
          log,
        );
        return;
      }
      let chunks: readonly string[];
      let file: ReplyFile | undefined;
      let note: string | undefined;
      try {
        ({ chunks, file, note } = planDelivery(sender, claim, this.#attachAfterChunks));
      } catch (error) {
        await this.#fail(claim, `splitting the text failed: ${failureOf(error).message}`, log);
        return;
      }
      const stream = claim.extras?.stream;
      let live: LiveMessage | undefined;
      if (stream && this.#closeLive) {
        // The turn's live message stops changing before its final text replaces it; bounded, so a stuck
        // update cannot hold the message past its lease.
        try {
          live = await this.#withTimeout(() => this.#closeLive?.(stream) ?? Promise.resolve(undefined));
        } catch (error) {
          log.warn({ err: failureOf(error).message }, "closing the live message timed out; retrying");
          await putBack(this.#now() + 1_000);
          return;
        }
      }
      const paces = this.#governor.pacesFor(claim.platform, claim.reply, "send");
      // The text chunks, then (a long answer) the file: each a step recorded as it is done.
      const steps = chunks.length + (file ? 1 : 0);
      for (let index = claim.chunksSent; index < steps; index++) {
        const chunk = chunks[index] ?? "";
        if (this.#stopRequested) {
          // Nothing of this try is in doubt (every chunk sent so far is recorded): give it back uncounted.
          await putBack(this.#now());
          return;
        }
        // A chat closed for longer than a lease (a long retry_after): give the slot to other chats.
        const freeAt = Math.max(...paces.map((p) => this.#governor.freeAt(p.key)));
        if (Number.isFinite(freeAt) && freeAt - this.#now() > this.#leaseMs) {
          await putBack(freeAt);
          return;
        }
        const key = `${claim.idempotencyKey}#${index}`;
        let outcome: ChunkOutcome;
        let release: () => void;
        try {
          release = await this.#governor.acquire(paces, waiting);
        } catch {
          if (!lost.signal.aborted) await putBack(this.#now());
          else log.warn("lost the lease on an outbox message while waiting; another dispatcher has it");
          return;
        }
        try {
          // The last word on whose message this is: never send what another dispatcher now holds.
          if (lost.signal.aborted || !(await this.#outbox.extendLease(claim, this.#leaseMs))) {
            log.warn({ chunk: index + 1 }, "lost the lease on an outbox message before sending");
            return;
          }
          outcome = await this.#withTimeout(async (signal) => {
            const context = {
              attempt: claim.attempts - 1,
              signal,
              live,
              chunks: chunks.length,
              ...(note !== undefined && { fileNote: note }),
            };
            if (index < chunks.length) return sender.sendChunk(claim, chunk, index, key, context);
            if (file && sender.sendFile) await sender.sendFile(claim, file, key, context);
            return "sent";
          });
        } catch (error) {
          const failure = failureOf(error);
          if (failure.kind === "rate_limited") {
            // The whole chat waits (the whole bot, for a global limit), live updates included.
            const until = this.#now() + Math.min(failure.retryAfterMs ?? 1_000, this.#maxRetryAfterMs);
            this.#governor.penalizeFor(claim.platform, claim.reply, failure.scope, until);
          }
          await this.#onFailure(claim, error, `chunk ${index + 1}/${steps}`, log);
          return;
        } finally {
          release();
        }
        if (
          !(await this.#outbox.recordChunks(
            claim,
            outcome === "complete" ? chunks.length : index + 1,
            this.#leaseMs,
          ))
        ) {
          log.warn({ chunk: index + 1 }, "lost the lease on an outbox message; another dispatcher has it");
          return;
        }
        // The sender delivered all the text at once (a finished Slack stream): the file, if any, is next.
        if (outcome === "complete") index = chunks.length - 1;
      }
      if (await this.#outbox.markSent(claim)) log.debug({ chunks: chunks.length }, "reply sent");
      else log.warn("lost the lease on an outbox message before marking it sent");
    } catch (error) {
      // The store failed: the lease runs out and the message is retried from its last recorded chunk.
      log.error({ err: failureOf(error).message }, "recording a delivery failed; it will be retried");
    } finally {
      clearInterval(keeper);
    }
  }

  async #onFailure(claim: ClaimedMessage, error: unknown, where: string, log: Logger): Promise<void> {
    const failure = failureOf(error);
    const reason = truncate(`${where}: ${failure.message}`, 1_000);
    if (failure.kind === "permanent") {
      await this.#fail(claim, reason, log);
      return;
    }
    if (failure.kind === "rate_limited") {
      const wait = Math.min(failure.retryAfterMs ?? this.#backoff(1), this.#maxRetryAfterMs);
      const at = this.#now() + wait;
      await this.#outbox.retryLater(claim, { at, error: reason, countTry: false });
      log.warn({ retryAfterMs: wait }, "rate limited; the conversation waits as asked");
      this.#wakeAt(at);
      return;
    }
    if (claim.attempts >= this.#maxAttempts) {
      await this.#fail(claim, `gave up after ${claim.attempts} tries; last: ${reason}`, log);
      return;
    }
    const at = this.#now() + this.#backoff(claim.attempts);
    await this.#outbox.retryLater(claim, { at, error: reason, countTry: true });
    log.warn({ attempt: claim.attempts, err: reason }, "sending failed; will retry");
    this.#wakeAt(at);
  }

  async #fail(claim: ClaimedMessage, reason: string, log: Logger): Promise<void> {
    await this.#outbox.markFailed(claim, reason);
    log.error({ err: reason }, "reply could not be delivered; marked failed");
  }

  async #withTimeout<T>(send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer from the platform within ${this.#sendTimeoutMs} ms`)),
      this.#sendTimeoutMs,
    );
    try {
      return await abortable(send(controller.signal), controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }
}
