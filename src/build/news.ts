import type { Outbox } from "../delivery/port.ts";
import { type MessageKey, message, type Params } from "../router/messages.ts";
import { errorMessage } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import { CloneError } from "./git.ts";
import type { BuildNotify } from "./jobs.ts";
import { BuildFailedError, type BuildStep, BuildTimeoutError } from "./port.ts";
import { BuildInputError } from "./sources.ts";

/**
 * What the Build Service tells the chat that asked for a build: accepted, progress (throttled), and one
 * outcome with the log's last lines on failure. Every message goes through the outbox under an idempotency
 * key made of the build id (and the attempt, for what each run says), so a replay posts nothing twice.
 */

const LOG_LINES_SHOWN = 15;
const LOG_CHARS_SHOWN = 2_500;

export function acceptedKey(id: string): string {
  return `build:${id}:accepted`;
}

/** One per build, whichever run gets there: the person hears one outcome. */
export function outcomeKey(id: string): string {
  return `build:${id}:outcome`;
}

/**
 * The chat of one build request, its messages in order (each after the previous one is recorded). Messages
 * get a `here` parameter: `switchboard` in the person's private chat with the bot (where "ask me" means
 * their switchboard), `elsewhere` in a group (where the VM's Claude Code answers, and has no build tools).
 */
export class BuildChat {
  readonly #notify: BuildNotify | null;
  readonly #outbox: Outbox;
  readonly #store: Store;
  readonly #kick: () => void;
  readonly #log: Logger;
  #chain: Promise<void> = Promise.resolve();
  #here: Promise<string> | undefined;

  /** `notify` null: a run that must say nothing (its outcome was posted by an earlier run). */
  constructor(
    notify: BuildNotify | null,
    deps: { outbox: Outbox; store: Store; kick: () => void; log: Logger },
  ) {
    this.#notify = notify;
    this.#outbox = deps.outbox;
    this.#store = deps.store;
    this.#kick = deps.kick;
    this.#log = deps.log;
  }

  get language() {
    return this.#notify?.language ?? "en";
  }

  /** Records the message (idempotent on `key`) after the ones before it. Rejects when it could not be. */
  say(key: string, msg: MessageKey, params: Params): Promise<void> {
    const notify = this.#notify;
    if (!notify) return Promise.resolve();
    const next = this.#chain.then(async () => {
      this.#here ??= this.#place(notify.conversationKey);
      const here = await this.#here;
      await this.#outbox.enqueue({
        idempotencyKey: key,
        platform: notify.platform,
        conversationKey: notify.conversationKey,
        reply: notify.reply,
        inboundReceivedAt: notify.inboundReceivedAt,
        text: message(notify.language, msg, { here, ...params }),
      });
      this.#kick();
    });
    // A lost progress line is logged; the chain goes on.
    this.#chain = next.catch((error: unknown) =>
      this.#log.warn({ err: error, key }, "could not post build news"),
    );
    return next;
  }

  /** Like `say`, for news whose loss is only logged (progress). */
  note(key: string, msg: MessageKey, params: Params): void {
    this.say(key, msg, params).catch(() => {});
  }

  /** Waits for everything said so far to be recorded. */
  flush(): Promise<void> {
    return this.#chain;
  }

  async #place(conversationKey: string): Promise<string> {
    const conversation = await this.#store.conversations.get(conversationKey);
    const bound = await this.#store.projects.bindingOf(conversationKey);
    return conversation?.kind === "dm" && !bound ? "switchboard" : "elsewhere";
  }
}

/** The outcome message of a failed run, and what the build record keeps of it. */
export function describeFailure(
  error: unknown,
  lastStep: BuildStep | undefined,
  asked: { askedByOwner: boolean },
): { key: MessageKey; params: Params; error: string; log: string | null } {
  if (error instanceof CloneError) {
    // Only the owner's token clones: a member who asked cannot fix a token, the owner can.
    return {
      key: "buildCloneFailed",
      params: { reason: error.reason, error: error.detail, asker: asked.askedByOwner ? "owner" : "member" },
      error: error.message,
      log: null,
    };
  }
  if (error instanceof BuildFailedError) {
    const step = error.step ?? lastStep;
    const short = shortError(error, step);
    const log = error.log || null;
    return {
      key: error instanceof BuildTimeoutError ? "buildTimedOut" : "buildFailed",
      params: { step: step?.text ?? "", error: short, log: log ? logTail(log) : "" },
      error: short,
      log,
    };
  }
  if (error instanceof BuildInputError) {
    return { key: error.key, params: { path: error.path }, error: error.message, log: null };
  }
  const text = errorMessage(error);
  return { key: "buildFailed", params: { step: "", error: text, log: "" }, error: text, log: null };
}

/** The builder's message without the log (shown apart) and without the step (said by the message). */
function shortError(error: BuildFailedError, step: BuildStep | undefined): string {
  let text = error.message.split("\n--- last lines of the build log ---\n")[0] ?? error.message;
  for (const prefix of [step ? `the build failed at ${step.text}: ` : "", "the build failed: "]) {
    if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
  }
  return text;
}

/** The last lines of a build log, short enough for a chat message. */
function logTail(log: string): string {
  const lines = log
    .split("\n")
    .map((line) => (line.length > 300 ? `${line.slice(0, 299)}…` : line))
    .slice(-LOG_LINES_SHOWN);
  while (lines.length > 1 && lines.join("\n").length > LOG_CHARS_SHOWN) lines.shift();
  // A fence inside the log would end the code block early.
  return lines.join("\n").replaceAll("```", "'''");
}

/**
 * Progress to a chat without flooding it: the first step at once, then at most one message per `everyMs`
 * (the latest step when the interval is up).
 */
export class Throttle {
  readonly #everyMs: number;
  readonly #post: (step: BuildStep) => void;
  #last = Number.NEGATIVE_INFINITY;
  #pending: BuildStep | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(everyMs: number, post: (step: BuildStep) => void) {
    this.#everyMs = everyMs;
    this.#post = post;
  }

  push(step: BuildStep): void {
    if (this.#closed) return;
    const wait = this.#last + this.#everyMs - Date.now();
    if (wait <= 0) {
      this.#send(step);
      return;
    }
    this.#pending = step;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (next && !this.#closed) this.#send(next);
    }, wait);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #send(step: BuildStep): void {
    this.#last = Date.now();
    this.#post(step);
  }
}
