import { LogLevel, type Logger as SlackLogger, SocketModeClient } from "@slack/socket-mode";
import { z } from "zod";
import type { Inbox } from "../../inbox/port.ts";
import type { Logger } from "../../shared/logger.ts";
import { parseSlackPayload, type SlackPayloadKind } from "../platforms/slack.ts";
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, describeError, sleep } from "./backoff.ts";
import type { InboundTransport } from "./types.ts";

/**
 * Slack Socket Mode through the official `SocketModeClient`: `apps.connections.open` (app-level token) gives
 * a WebSocket URL; Slack sends envelopes on it and retries each until it is acknowledged by envelope id.
 *
 * Envelopes are handled one at a time, in arrival order: parse, enqueue, and only then `ack()`. An envelope
 * whose enqueue failed is not acknowledged, so Slack sends it again (with `retry_attempt`); the inbox drops
 * the repeats of envelopes that were stored but whose ack was lost.
 *
 * The client's own reconnection is turned off and this transport reconnects instead: the client's retry
 * after a failed `start()` leaves an unhandled rejection (a revoked token would crash the process) and its
 * delay grows without a cap. After a `disconnect` frame or a dropped socket this loop reconnects at once,
 * then backs off while connections keep failing.
 */
export interface SlackSocketModeOptions {
  /** App-level token (`xapp-…`) with `connections:write`. */
  readonly appToken: string;
  /** Web API base, e.g. `https://slack.com/api`. */
  readonly apiUrl: string;
  readonly inbox: Pick<Inbox, "enqueue">;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly backoff?: BackoffOptions;
  /** Timeout of `apps.connections.open`. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** How long to wait for Slack's `hello` after connecting. Default 30 s. */
  readonly helloTimeoutMs?: number;
  /** The client pings every third of this and reconnects when no pong comes within it. Default 5 s. */
  readonly clientPingTimeoutMs?: number;
  /** The client reconnects when the server has not pinged for this long (once it has pinged). Default 30 s. */
  readonly serverPingTimeoutMs?: number;
  /** A connection that ends sooner counts as a failure, so a flapping server is retried with backoff. Default 10 s. */
  readonly stableAfterMs?: number;
}

/** What the client emits as `slack_event` for every envelope. */
interface SocketModeEnvelope {
  ack(response?: Record<string, unknown>): Promise<void>;
  readonly envelope_id?: string;
  readonly type: string;
  readonly body: unknown;
  readonly retry_num?: number;
}

const KINDS: ReadonlySet<string> = new Set<SlackPayloadKind>(["events_api", "interactive", "slash_commands"]);
const isKind = (type: string): type is SlackPayloadKind => KINDS.has(type);
const STOP_TIMEOUT_MS = 5_000;

export class SlackSocketModeTransport implements InboundTransport {
  readonly name = "slack-socket-mode";
  readonly #options: SlackSocketModeOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #client: SocketModeClient;
  #chain: Promise<void> = Promise.resolve();
  /** Bumped on stop: queued envelopes of an older epoch are left unacknowledged for Slack to re-send. */
  #epoch = 0;
  #stopped = false;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #onDisconnected: (() => void) | undefined;
  /** The latest `start()`, settled either way. */
  #starting: Promise<void> | undefined;

  constructor(options: SlackSocketModeOptions) {
    this.#options = options;
    this.#log = options.logger.child({ transport: this.name });
    this.#now = options.now ?? Date.now;
    this.#client = new SocketModeClient({
      appToken: options.appToken,
      logger: slackLogger(this.#log.child({ lib: "@slack/socket-mode" })),
      autoReconnectEnabled: false,
      clientPingTimeout: options.clientPingTimeoutMs ?? 5_000,
      serverPingTimeout: options.serverPingTimeoutMs ?? 30_000,
      clientOptions: {
        slackApiUrl: `${options.apiUrl.replace(/\/+$/, "")}/`,
        timeout: options.requestTimeoutMs ?? 10_000,
        // Retries (and their backoff) are this transport's loop, which also logs why.
        retryConfig: { retries: 0 },
      },
    });
    this.#client.on("slack_event", (envelope: SocketModeEnvelope) => {
      const epoch = this.#epoch;
      this.#chain = this.#chain.then(() => this.#handle(envelope, epoch));
    });
    this.#guardFrameHandler();
    this.#client.on("disconnected", () => this.#onDisconnected?.());
    // A start() that was in flight when stop() ran can still complete; close what it opened.
    this.#client.on("connected", () => {
      if (this.#stopped) void this.#disconnect();
    });
  }

  /**
   * The client's frame handler is async and reads `payload.event.type` of every `events_api` envelope
   * unchecked, so one malformed frame would be an unhandled rejection (a crash). Its rejections are logged.
   */
  #guardFrameHandler(): void {
    for (const handler of this.#client.listeners("ws_message")) {
      this.#client.removeListener("ws_message", handler);
      this.#client.on("ws_message", (...args: unknown[]) => {
        Promise.resolve(handler.apply(this.#client, args)).catch((error: unknown) =>
          this.#log.warn(
            { error: describeError(error) },
            "ignoring a Socket Mode frame the client could not read",
          ),
        );
      });
    }
  }

  async start(): Promise<void> {
    if (this.#loop !== undefined || this.#stopping !== undefined)
      throw new Error(`${this.name} already started`);
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true;
    this.#epoch += 1;
    this.#abort?.abort();
    await this.#loop;
    // A start() abandoned by the loop may still be opening a socket: let it settle (bounded), then close.
    await withTimeout(this.#starting ?? Promise.resolve(), STOP_TIMEOUT_MS);
    await this.#disconnect();
    await this.#chain;
    this.#log.info("Slack Socket Mode stopped");
  }

  async #run(signal: AbortSignal): Promise<void> {
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    const stableAfterMs = this.#options.stableAfterMs ?? 10_000;
    const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    let failures = 0;
    while (!signal.aborted) {
      const ended = new Promise<void>((resolve) => {
        this.#onDisconnected = resolve;
      });
      let connectedAt: number | undefined;
      try {
        await this.#connect(aborted);
        if (signal.aborted) break;
        connectedAt = Date.now();
        this.#log.info({ failures }, "connected to Slack Socket Mode");
        await Promise.race([ended, aborted]);
        if (signal.aborted) break;
        this.#log.info("Socket Mode connection closed; reconnecting");
      } catch (error) {
        if (signal.aborted) break;
        const { level, message } = explain(error);
        this.#log[level]({ failures: failures + 1 }, message);
        await this.#disconnect();
      }
      failures = connectedAt !== undefined && Date.now() - connectedAt >= stableAfterMs ? 0 : failures + 1;
      // The first reconnect after a working connection (Slack's `disconnect` refresh) is immediate.
      await sleep(failures <= 1 && connectedAt !== undefined ? 0 : backoffDelay(failures, backoff), signal);
    }
  }

  /** `start()` resolves on Slack's `hello`; bounded here because the client itself never gives up waiting. */
  async #connect(aborted: Promise<void>): Promise<void> {
    const helloTimeoutMs = this.#options.helloTimeoutMs ?? 30_000;
    const started = this.#client.start();
    // A start() abandoned below (timeout, stop) rejects later when its socket is closed; that is expected.
    this.#starting = started.then(
      () => {},
      () => {},
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Slack did not say hello within ${helloTimeoutMs} ms`)),
        helloTimeoutMs,
      );
    });
    try {
      await Promise.race([started, timedOut, aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the current socket, if any; bounded, since the client waits up to 30 s for the close handshake. */
  async #disconnect(): Promise<void> {
    await withTimeout(
      this.#client.disconnect().catch(() => {}),
      STOP_TIMEOUT_MS,
    );
  }

  /** Never rejects: it runs on the envelope chain. */
  async #handle(envelope: SocketModeEnvelope, epoch: number): Promise<void> {
    if (epoch !== this.#epoch) return;
    const context = {
      envelopeId: envelope.envelope_id,
      type: envelope.type,
      retryAttempt: envelope.retry_num,
    };
    if (isKind(envelope.type)) {
      try {
        const outcome = parseSlackPayload(envelope.type, envelope.body, { receivedAt: this.#now() });
        if (!outcome.ok) {
          // Slack would re-send it unchanged; acknowledging it is the only way forward.
          this.#log.warn(
            { ...context, reason: outcome.reason },
            "acknowledging a malformed Slack payload unstored",
          );
        } else if (outcome.events.length > 0) {
          await this.#options.inbox.enqueue(outcome.events);
        }
      } catch (error) {
        this.#log.error(
          { ...context, error: describeError(error) },
          "could not store a Slack event; not acknowledging it, so Slack sends it again",
        );
        return;
      }
    } else {
      this.#log.debug(context, "acknowledging a Socket Mode envelope of a type we do not handle");
    }
    try {
      await envelope.ack();
    } catch (error) {
      this.#log.warn(
        { ...context, error: describeError(error) },
        "could not acknowledge a stored Slack event; Slack will send it again and the inbox drops the repeat",
      );
    }
  }
}

/** Waits for `promise`, or at most `ms`. */
async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

const SlackApiError = z
  .object({
    code: z.string(),
    data: z.object({ error: z.string() }).loose().optional(),
    statusCode: z.number().optional(),
  })
  .loose();
const AUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "not_allowed_token_type",
  "missing_scope",
  "user_removed_from_team",
  "team_disabled",
]);

function explain(error: unknown): { level: "warn" | "error"; message: string } {
  // start() rejects with nothing when the socket closes before Slack's hello.
  if (error === undefined)
    return { level: "warn", message: "the Socket Mode connection closed before Slack said hello" };
  const parsed = SlackApiError.safeParse(error);
  if (parsed.success) {
    const { code, data, statusCode } = parsed.data;
    if (code === "slack_webapi_platform_error" && data !== undefined && AUTH_ERRORS.has(data.error)) {
      return {
        level: "error",
        message:
          `Slack rejected the app token (${data.error}): SLACK_APP_TOKEN must be an app-level xapp- token ` +
          "with the connections:write scope; retrying",
      };
    }
    if (code === "slack_webapi_platform_error") {
      return { level: "warn", message: `apps.connections.open failed: ${data?.error ?? "unknown error"}` };
    }
    if (code === "slack_webapi_request_error") {
      return { level: "warn", message: `cannot reach the Slack API (${describeError(error)})` };
    }
    if (code === "slack_webapi_http_error") {
      return { level: "warn", message: `apps.connections.open answered HTTP ${statusCode ?? "error"}` };
    }
  }
  return { level: "warn", message: `Socket Mode connection failed: ${describeError(error)}` };
}

/** The SDK's logger interface over ours; its chatty debug goes to trace and its errors (retried here) to warn. */
function slackLogger(log: Logger): SlackLogger {
  const line = (parts: unknown[]): string =>
    parts.map((p) => (typeof p === "string" ? p : describeError(p))).join(" ");
  return {
    debug: (...parts: unknown[]) => log.trace(line(parts)),
    info: (...parts: unknown[]) => log.debug(line(parts)),
    warn: (...parts: unknown[]) => log.warn(line(parts)),
    error: (...parts: unknown[]) => log.warn(line(parts)),
    setLevel: () => {},
    getLevel: () => (log.isLevelEnabled("trace") ? LogLevel.DEBUG : LogLevel.INFO),
    setName: () => {},
  };
}
