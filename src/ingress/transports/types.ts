/**
 * A long-lived inbound connection to a chat platform (Slack Socket Mode, the Discord Gateway, Telegram long
 * polling), the alternative to a webhook when there is no public HTTPS endpoint or the platform requires it.
 *
 * Contract shared by every transport: an event is acknowledged to the platform (Socket Mode `ack`, Gateway
 * resume cursor, getUpdates offset) only after `inbox.enqueue` resolved, i.e. after it is durable. When
 * enqueue fails nothing is acknowledged, so the platform delivers the event again; redeliveries and replays
 * are harmless because the inbox dedupes by event id. Nothing is lost or doubled across reconnects and
 * process restarts.
 */
export interface InboundTransport {
  readonly name: string;
  /** Starts the background connection and returns; connection failures are logged and retried with backoff. */
  start(): Promise<void>;
  /** Idempotent; resolves when fully stopped (sockets closed, in-flight enqueues settled). */
  stop(): Promise<void>;
}
