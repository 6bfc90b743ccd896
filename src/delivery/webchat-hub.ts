/**
 * The in-process hand-off from the webchat sender to the webchat page's server-sent-events endpoint.
 * Each conversation keeps a short history, so a page that reconnects (EventSource `Last-Event-ID`) asks
 * for what it missed with `after`. A message published twice under the same key is kept once.
 */
export interface WebchatMessage {
  /** Increases across the hub; use it as the SSE event id. */
  readonly seq: number;
  /** The chunk's idempotency key. */
  readonly key: string;
  readonly conversationKey: string;
  /** Markdown, rendered by the page. */
  readonly text: string;
  /** Buttons under the message (approvals); a press posts the value back (`POST /webchat/api/actions`). */
  readonly buttons?: readonly WebchatButton[] | undefined;
  readonly at: number;
}

export interface WebchatButton {
  readonly label: string;
  readonly value: string;
  readonly style?: "primary" | "danger" | undefined;
}

export type WebchatListener = (message: WebchatMessage) => void;

export interface WebchatHubOptions {
  /** Messages kept per conversation for reconnecting pages. Default 200. */
  readonly historyLimit?: number;
  readonly now?: () => number;
}

export class WebchatHub {
  readonly #history = new Map<string, WebchatMessage[]>();
  readonly #listeners = new Map<string, Set<WebchatListener>>();
  readonly #historyLimit: number;
  readonly #now: () => number;
  #seq = 0;

  constructor(options: WebchatHubOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 200;
    this.#now = options.now ?? Date.now;
  }

  /** Records and fans out a message; returns it (the earlier one when the key was already published). */
  publish(
    conversationKey: string,
    message: {
      readonly key: string;
      readonly text: string;
      readonly buttons?: readonly WebchatButton[] | undefined;
    },
  ): WebchatMessage {
    const history = this.#history.get(conversationKey) ?? [];
    const existing = history.find((m) => m.key === message.key);
    if (existing) return existing;
    const published: WebchatMessage = {
      seq: ++this.#seq,
      key: message.key,
      conversationKey,
      text: message.text,
      ...(message.buttons && message.buttons.length > 0 && { buttons: message.buttons }),
      at: this.#now(),
    };
    history.push(published);
    if (history.length > this.#historyLimit) history.splice(0, history.length - this.#historyLimit);
    this.#history.set(conversationKey, history);
    for (const listener of this.#listeners.get(conversationKey) ?? []) {
      try {
        listener(published);
      } catch {
        // A broken page connection must not stop delivery to the others.
      }
    }
    return published;
  }

  /**
   * Calls `listener` with every message published to the conversation from now on, after first replaying
   * the kept ones with `seq > after` when `after` is given. Returns the unsubscribe function.
   */
  subscribe(
    conversationKey: string,
    listener: WebchatListener,
    options: { after?: number } = {},
  ): () => void {
    const after = options.after;
    if (after !== undefined) for (const m of this.history(conversationKey, after)) listener(m);
    const set = this.#listeners.get(conversationKey) ?? new Set();
    set.add(listener);
    this.#listeners.set(conversationKey, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(conversationKey) === set)
        this.#listeners.delete(conversationKey);
    };
  }

  /** Kept messages of a conversation with `seq > after`, oldest first. */
  history(conversationKey: string, after = 0): WebchatMessage[] {
    return (this.#history.get(conversationKey) ?? []).filter((m) => m.seq > after);
  }

  /** Pages currently listening to a conversation. */
  listenerCount(conversationKey: string): number {
    return this.#listeners.get(conversationKey)?.size ?? 0;
  }
}
