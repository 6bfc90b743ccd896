import { createInterface } from "node:readline";
import {
  AgentEvent,
  DaemonFrame,
  type DaemonReply,
  encodeFrame,
  PROTOCOL_VERSION,
  type RouterFrame,
} from "../agent/protocol.ts";
import type { Logger } from "../shared/logger.ts";
import type { KeyValueRepository } from "../store/port.ts";
import {
  AgentAsleepError,
  type BridgeStream,
  type ContainerRuntime,
  HostUnavailableError,
  NoCapacityError,
} from "../vm/port.ts";

type TurnState = Extract<DaemonReply, { type: "turn_state" }>;
type FileReply = Extract<DaemonReply, { type: "file" }>;

const CURSOR_SAVE_MS = 200;
/** Longer than the bridge's own wait for a starting daemon's socket (30 s, see DockerHost.openBridge). */
const WELCOME_MS = 35_000;

export interface AgentConnectionOptions {
  readonly name: string;
  readonly runtime: ContainerRuntime;
  /**
   * Makes sure the agent runs (creating or starting it); called before every (re)connect. `resume` is set
   * for the background reconnect after a bridge dropped: an agent put to sleep on purpose stays asleep.
   */
  readonly ensure: (resume: boolean) => Promise<void>;
  /** Where the last fully handled event `seq` is kept, so a restarted router resumes from it. */
  readonly cursors: KeyValueRepository;
  /** Handles each event in order; the cursor moves past an event only after this resolves. */
  readonly onEvent: (event: AgentEvent) => Promise<void>;
  readonly logger: Logger;
}

/**
 * The router's end of one agent's bridge. Connects (starting the agent first), says `hello` with the
 * persisted cursor, hands every event to `onEvent` strictly in order, then persists the cursor and acks.
 * When the bridge drops it reconnects (restarting a dead agent) and the daemon replays what was missed;
 * events that were replayed but already handled before a crash reach `onEvent` again, so handlers must be
 * idempotent (they are: outbox keys, turn records).
 */
export class AgentConnection {
  readonly name: string;
  readonly #options: AgentConnectionOptions;
  #bridge: BridgeStream | undefined;
  #ready: Promise<void> | undefined;
  #handled = 0;
  #saved = 0;
  #saveTimer: NodeJS.Timeout | undefined;
  /**
   * Set when handling an event failed: later events of the same connection are dropped (not handled,
   * cursor not moved) until the reconnect replays from the failed one, so none is skipped.
   */
  #poisoned = false;
  #closed = false;
  #queue: Promise<void> = Promise.resolve();
  readonly #replies = new Map<string, (reply: DaemonReply) => void>();

  constructor(options: AgentConnectionOptions) {
    this.name = options.name;
    this.#options = options;
  }

  /** Resolves once a bridge is attached and welcomed (connecting, and waking the agent, if needed). */
  async ready(): Promise<void> {
    try {
      await (this.#ready ?? this.#attach(false));
    } catch (error) {
      // We joined a background reconnect that found the agent asleep: this caller wants it awake.
      if (error instanceof AgentAsleepError) return this.#attach(false);
      throw error;
    }
  }

  /** Whether a bridge is attached right now (no connect needed). */
  get attached(): boolean {
    return this.#bridge !== undefined;
  }

  #attach(resume: boolean): Promise<void> {
    this.#ready ??= this.#connectWithRetry(resume).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async send(frame: RouterFrame): Promise<void> {
    await this.ready();
    this.#bridge?.stdin.write(encodeFrame(frame));
  }

  /** Where a turn stands in the daemon. */
  async queryTurn(turnId: string, timeoutMs = 10_000): Promise<TurnState> {
    const reply = await this.#request(`turn:${turnId}`, { type: "query_turn", turnId }, timeoutMs);
    return reply as TurnState;
  }

  /** The bytes of a file a finished turn reported (`turn_finished.files`), or the daemon's reason why not. */
  async readFile(turnId: string, name: string, timeoutMs = 60_000): Promise<FileReply> {
    const key = `file:${turnId}:${name}`;
    const reply = await this.#request(key, { type: "read_file", turnId, name }, timeoutMs);
    return reply as FileReply;
  }

  /** Drops the current bridge (the agent went to sleep under it); the next `ready()` connects afresh. */
  async detach(): Promise<void> {
    const bridge = this.#bridge;
    this.#bridge = undefined;
    this.#ready = undefined;
    bridge?.close();
    await bridge?.closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.catch(() => {});
    clearTimeout(this.#saveTimer);
    await this.#saveCursor();
    this.#bridge?.close();
  }

  async #request(key: string, frame: RouterFrame, timeoutMs: number): Promise<DaemonReply> {
    await this.ready();
    const answer = new Promise<DaemonReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(key);
        reject(new Error(`agent ${this.name} did not answer ${frame.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#replies.set(key, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
    try {
      await this.send(frame);
    } catch (error) {
      this.#replies.delete(key);
      answer.catch(() => {}); // its timer may still fire; nobody is waiting any more
      throw error;
    }
    return answer;
  }

  async #connectWithRetry(resume: boolean): Promise<void> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new Error(`connection to ${this.name} is closed`);
      try {
        await this.#connect(resume);
        return;
      } catch (error) {
        // Asleep on purpose, or on a host that is down: retrying here would not help.
        if (
          error instanceof AgentAsleepError ||
          error instanceof HostUnavailableError ||
          error instanceof NoCapacityError
        )
          throw error;
        if (attempt >= 8) throw error;
        this.#options.logger.warn(
          { agent: this.name, err: error, attempt },
          "bridge connect failed; retrying",
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  async #connect(resume: boolean): Promise<void> {
    await this.#options.ensure(resume);
    this.#handled = Math.max(
      this.#handled,
      (await this.#options.cursors.get<number>(this.#cursorKey())) ?? 0,
    );
    const bridge = await this.#options.runtime.openBridge(this.name);
    if (this.#closed) {
      bridge.close();
      throw new Error(`connection to ${this.name} is closed`);
    }
    this.#poisoned = false;
    const welcomed = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${this.name} sent no welcome`)), WELCOME_MS);
      this.#replies.set("welcome", (reply) => {
        clearTimeout(timer);
        resolve(reply.type === "welcome" ? reply.lastSeq : 0);
      });
      void bridge.closed.then(() => reject(new Error(`bridge to ${this.name} closed during hello`)));
    });
    const lines = createInterface({ input: bridge.stdout, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on("line", (line) => this.#onLine(line));
    void bridge.closed.then(() => this.#onBridgeClosed(bridge));
    bridge.stdin.on("error", () => {}); // a dying bridge surfaces through `closed`
    bridge.stdin.write(encodeFrame({ type: "hello", protocol: PROTOCOL_VERSION, resumeFrom: this.#handled }));
    let lastSeq: number;
    try {
      lastSeq = await welcomed;
    } catch (error) {
      bridge.close(); // do not leave a bridge process behind for every failed attempt
      throw error;
    }
    // Only now is it our bridge: one that dies during hello is this loop's to retry, not a background
    // reconnect's (two loops would steal each other's welcome).
    this.#bridge = bridge;
    if (lastSeq < this.#handled) {
      // The agent's log is newer than our cursor (its volume was recreated): start over from its beginning.
      this.#options.logger.warn({ agent: this.name, lastSeq, cursor: this.#handled }, "agent log restarted");
      this.#handled = 0;
      await this.#options.cursors.set(this.#cursorKey(), 0);
      bridge.stdin.write(encodeFrame({ type: "hello", protocol: PROTOCOL_VERSION, resumeFrom: 0 }));
    }
    this.#options.logger.debug({ agent: this.name, resumeFrom: this.#handled }, "bridge attached");
  }

  #onLine(line: string): void {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.#options.logger.warn(
        { agent: this.name, line: line.slice(0, 200) },
        "bridge sent a non-JSON line",
      );
      return;
    }
    const frame = DaemonFrame.safeParse(parsed);
    if (!frame.success) {
      this.#options.logger.warn(
        { agent: this.name, line: line.slice(0, 200) },
        "bridge sent an unknown frame",
      );
      return;
    }
    const f = frame.data;
    if ("seq" in f) {
      const event = AgentEvent.parse(f);
      this.#queue = this.#queue.then(() => this.#handle(event));
      return;
    }
    const key =
      f.type === "welcome"
        ? "welcome"
        : f.type === "pong"
          ? `pong:${f.id}`
          : f.type === "file"
            ? `file:${f.turnId}:${f.name}`
            : `turn:${f.turnId}`;
    const waiter = this.#replies.get(key);
    this.#replies.delete(key);
    waiter?.(f);
  }

  async #handle(event: AgentEvent): Promise<void> {
    if (this.#poisoned) return;
    if (event.seq <= this.#handled) return; // replayed and already handled
    try {
      await this.#options.onEvent(event);
    } catch (error) {
      // Not advancing the cursor means the event comes again on the next connection.
      this.#options.logger.error(
        { agent: this.name, err: error, seq: event.seq },
        "handling an agent event failed",
      );
      this.#bridge?.close();
      return;
    }
    this.#handled = event.seq;
    this.#scheduleCursorSave();
  }

  /**
   * The cursor is saved (and acked) at most every CURSOR_SAVE_MS rather than per event: a write per text
   * delta would cost more than the delta. After a crash the daemon replays from the last saved cursor, and
   * the handlers are idempotent, so a lagging cursor only means a little more replay.
   */
  #scheduleCursorSave(): void {
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#saveCursor();
    }, CURSOR_SAVE_MS);
  }

  async #saveCursor(): Promise<void> {
    const seq = this.#handled;
    if (seq <= this.#saved) return;
    try {
      await this.#options.cursors.set(this.#cursorKey(), seq);
      this.#saved = seq;
      this.#bridge?.stdin.write(encodeFrame({ type: "ack", seq }));
    } catch (error) {
      this.#options.logger.warn({ agent: this.name, err: error }, "could not save the bridge cursor");
    }
  }

  #onBridgeClosed(bridge: BridgeStream): void {
    if (this.#bridge !== bridge) return;
    this.#bridge = undefined;
    this.#ready = undefined;
    if (this.#closed) return;
    // Info, not a warning: agents put to sleep close their bridges too (the reconnect then finds them asleep).
    this.#options.logger.info({ agent: this.name }, "bridge closed; reconnecting");
    // Reconnect in the background so events keep flowing even with no turn waiting (unless the agent
    // was put to sleep: then the next turn wakes it).
    this.#attach(true).catch((error: unknown) => {
      if (error instanceof AgentAsleepError) {
        this.#options.logger.debug({ agent: this.name }, "agent is asleep; not reconnecting");
        return;
      }
      this.#options.logger.error({ agent: this.name, err: error }, "could not reconnect to agent");
    });
  }

  #cursorKey(): string {
    return `agent-cursor:${this.name}`;
  }
}
