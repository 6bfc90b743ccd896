import type { ReplyContext } from "../ingress/event.ts";
import type { Platform } from "../store/port.ts";

/**
 * The rate governor: every call to a chat platform (a new message, an edit, a stream append, a typing
 * indicator) first takes a slot here, per chat and per bot. A slot of a key is free `intervalMs` after the
 * previous call on that key *finished*, so two calls on one chat never reach the platform closer together
 * than the interval, whatever the network does. A 429 `retry_after` closes the chat (or the whole bot)
 * until then. One governor per process: in a scaled deployment each dispatcher paces its own calls, and a
 * 429 that results is still honoured by the outbox (nothing is dropped).
 */
export interface Pace {
  readonly key: string;
  readonly intervalMs: number;
  /**
   * Counted from the end of the previous call, which holds the key meanwhile (a chat: two calls never
   * overlap). Otherwise from its start, calls overlapping freely (a bot's overall rate).
   */
  readonly fromEnd: boolean;
}

export interface GovernorSettings {
  /** Minimum time between two updates of one streamed message in a one-to-one chat. */
  readonly editIntervalMs: number;
  /** The same in group chats (Telegram allows about 20 messages a minute in a group). */
  readonly groupEditIntervalMs: number;
  /** Calls per second per bot, all chats together (Telegram ~30/s, Discord 50/s). */
  readonly botPerSecond: number;
  /** Space new messages in one chat as the platforms ask (Telegram 1/s, 20/min in groups). Default true. */
  readonly spaceSends?: boolean;
}

export const DEFAULT_GOVERNOR_SETTINGS: GovernorSettings = {
  editIntervalMs: 1_000,
  groupEditIntervalMs: 3_000,
  botPerSecond: 25,
};

/** Spacing of new messages in one chat, per platform (edits use the settings). */
const SEND_INTERVAL_MS: Record<Platform, { dm: number; group: number }> = {
  telegram: { dm: 1_000, group: 3_000 },
  slack: { dm: 1_000, group: 1_000 },
  discord: { dm: 250, group: 250 },
  line: { dm: 0, group: 0 },
  webchat: { dm: 0, group: 0 },
};

export class RateGovernor {
  readonly settings: GovernorSettings;
  /** Per key: when the next call may start. */
  readonly #freeAt = new Map<string, number>();
  /** Per key: a platform's 429 said wait until then. */
  readonly #penalties = new Map<string, number>();
  /** Callers waiting for a key held by a call in flight; woken (to look again) by every release. */
  readonly #waiters = new Set<() => void>();
  readonly #now: () => number;

  constructor(settings: Partial<GovernorSettings> = {}, now: () => number = Date.now) {
    this.settings = { ...DEFAULT_GOVERNOR_SETTINGS, ...settings };
    this.#now = now;
  }

  /**
   * Waits for a slot on every key, reserves it, and returns the function to call once the platform has
   * answered (it starts each key's interval from then). Aborting the signal gives the slot back.
   */
  async acquire(paces: readonly Pace[], signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      const now = this.#now();
      const start = Math.max(now, ...paces.map((p) => this.freeAt(p.key)));
      if (start <= now) {
        // Reserve: a chat is held until this call has finished (see the release); a bot only spaced.
        for (const p of paces)
          this.#freeAt.set(p.key, p.fromEnd ? Number.POSITIVE_INFINITY : now + p.intervalMs);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          const end = this.#now();
          for (const p of paces) if (p.fromEnd) this.#freeAt.set(p.key, end + p.intervalMs);
          this.#prune(end);
          this.#wakeWaiters();
        };
      }
      // Until the known free time, or (a key held by a call in flight) until some call is released.
      await this.#wait(Number.isFinite(start) ? Math.min(start - now, 60_000) : undefined, signal);
    }
  }

  /** A 429: nothing on `key` until `until` (ms since epoch). */
  penalize(key: string, until: number): void {
    this.#penalties.set(key, Math.max(this.#penalties.get(key) ?? 0, until));
  }

  /**
   * A 429 on a call to `reply`'s chat: the chat waits until `until`, or the whole bot when the platform said
   * the limit is global (Discord).
   */
  penalizeFor(platform: Platform, reply: ReplyContext, scope: "chat" | "bot", until: number): void {
    this.penalize(scope === "bot" ? `bot:${platform}` : `chat:${platform}:${chatOf(reply)}`, until);
  }

  /** Sleeps `ms` (forever when undefined) or until a release wakes the waiters; rejects on abort. */
  #wait(ms: number | undefined, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        reject(signal?.reason);
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #wakeWaiters(): void {
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiting) wake();
  }

  /** When `key` is next free (0: now; infinite while a call on it is in flight). */
  freeAt(key: string): number {
    return Math.max(this.#freeAt.get(key) ?? 0, this.#penalties.get(key) ?? 0);
  }

  /** Paces for a call to the chat a reply goes to. */
  pacesFor(platform: Platform, reply: ReplyContext, kind: "send" | "edit" | "typing"): Pace[] {
    const chat = chatOf(reply);
    const group = isGroup(reply);
    const interval =
      kind === "edit"
        ? group
          ? this.settings.groupEditIntervalMs
          : this.settings.editIntervalMs
        : kind === "typing"
          ? 0
          : this.settings.spaceSends === false
            ? 0
            : SEND_INTERVAL_MS[platform][group ? "group" : "dm"];
    const paces: Pace[] = [{ key: `chat:${platform}:${chat}`, intervalMs: interval, fromEnd: true }];
    if (platform !== "webchat") {
      paces.push({
        key: `bot:${platform}`,
        intervalMs: Math.ceil(1_000 / this.settings.botPerSecond),
        fromEnd: false,
      });
    }
    return paces;
  }

  #prune(now: number): void {
    if (this.#freeAt.size < 10_000) return;
    for (const [key, at] of this.#freeAt) if (at < now) this.#freeAt.delete(key);
    for (const [key, at] of this.#penalties) if (at < now) this.#penalties.delete(key);
  }
}

/** The platform's chat id behind a reply context (rate limits are per chat, not per thread). */
export function chatOf(reply: ReplyContext): string {
  switch (reply.platform) {
    case "line":
      return reply.to;
    case "slack":
      return reply.channel;
    case "discord":
      return reply.channelId;
    case "telegram":
      return String(reply.chatId);
    case "webchat":
      return reply.sessionId;
  }
}

/** Whether the reply goes to a group chat (where platforms allow fewer messages and edits). */
export function isGroup(reply: ReplyContext): boolean {
  switch (reply.platform) {
    case "line":
      return !reply.to.startsWith("U");
    case "slack":
      return !reply.channel.startsWith("D");
    case "discord":
      return reply.guildId !== undefined;
    case "telegram":
      return reply.chatId < 0;
    case "webchat":
      return false;
  }
}
