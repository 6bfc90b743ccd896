import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { closeServer, listenLoopback, readBody, sendJson } from "./http.ts";

/**
 * A fake Slack for Socket Mode on 127.0.0.1:
 * - `POST /api/apps.connections.open` checks `Authorization: Bearer <app token>` (else `invalid_auth`) and
 *   returns a single-use `ws://127.0.0.1:…/link/?ticket=…` URL;
 * - the WebSocket sends `hello`, then every envelope not yet acknowledged (a reconnect gets the unacked
 *   ones again with `retry_attempt` + 1, as Slack retries), then whatever `push` sends;
 * - a client frame `{envelope_id, payload}` acknowledges an envelope (recorded in `acks`);
 * - `sendDisconnect` (Slack's refresh), `dropConnections` (TCP drop), `resendUnacked` (Slack's retry).
 */
export const SLACK_TEST_APP_TOKEN = "xapp-1-A0TEST-1-fake";

export interface SlackEnvelope {
  readonly envelope_id: string;
  readonly type: string;
  readonly payload: unknown;
  readonly accepts_response_payload: boolean;
  retry_attempt: number;
  retry_reason: string;
  sends: number;
  acked: boolean;
}

export class FakeSlackSocketMode {
  readonly appToken: string;
  /** `apps.connections.open` calls, answered or not. */
  readonly opens: { readonly authorized: boolean }[] = [];
  /** WebSocket connections accepted. */
  connections = 0;
  readonly acks: { readonly envelopeId: string; readonly payload: unknown }[] = [];
  readonly #envelopes = new Map<string, SlackEnvelope>();
  readonly #sockets = new Set<WebSocket>();
  readonly #tickets = new Set<string>();
  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #port: number;
  /** When false, apps.connections.open answers HTTP 503 (Slack unreachable). */
  available = true;

  static async start(options: { appToken?: string } = {}): Promise<FakeSlackSocketMode> {
    let fake: FakeSlackSocketMode | undefined;
    const { server, port } = await listenLoopback((req, res) => {
      fake?.handleHttp(req, res).catch(() => sendJson(res, 500, { ok: false, error: "fake_error" }));
    });
    fake = new FakeSlackSocketMode(server, port, options.appToken ?? SLACK_TEST_APP_TOKEN);
    return fake;
  }

  private constructor(server: Server, port: number, appToken: string) {
    this.#server = server;
    this.#port = port;
    this.appToken = appToken;
    server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** The Web API base to configure (`SLACK_API_URL`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api`;
  }

  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Sends an envelope (now if connected, else on the next connection). Returns its envelope id. */
  push(type: "events_api" | "interactive" | "slash_commands" | string, payload: unknown): string {
    const envelope: SlackEnvelope = {
      envelope_id: randomUUID(),
      type,
      payload,
      accepts_response_payload: type !== "events_api",
      retry_attempt: 0,
      retry_reason: "",
      sends: 0,
      acked: false,
    };
    this.#envelopes.set(envelope.envelope_id, envelope);
    const socket = this.#current();
    if (socket !== undefined) this.#send(socket, envelope);
    return envelope.envelope_id;
  }

  envelope(id: string): SlackEnvelope | undefined {
    return this.#envelopes.get(id);
  }

  unacked(): string[] {
    return [...this.#envelopes.values()].filter((e) => !e.acked).map((e) => e.envelope_id);
  }

  /** Slack retrying what was not acknowledged, on the current connection. */
  resendUnacked(reason = "timeout"): void {
    const socket = this.#current();
    if (socket === undefined) return;
    for (const envelope of this.#envelopes.values())
      if (!envelope.acked) this.#send(socket, envelope, reason);
  }

  /** Slack's connection refresh: the client should reconnect. */
  sendDisconnect(reason = "refresh_requested"): void {
    for (const socket of this.#sockets) {
      socket.send(JSON.stringify({ type: "disconnect", reason, debug_info: { host: "fake-slack" } }));
    }
  }

  /** Drops every connection without a close frame. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.terminate();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    this.#wss.close();
    await closeServer(this.#server);
  }

  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    if (req.method !== "POST" || req.url !== "/api/apps.connections.open") {
      return sendJson(res, 404, { ok: false, error: "unknown_method" });
    }
    const authorized = req.headers.authorization === `Bearer ${this.appToken}`;
    this.opens.push({ authorized });
    if (!this.available) return sendJson(res, 503, { ok: false, error: "service_unavailable" });
    if (!authorized) return sendJson(res, 200, { ok: false, error: "invalid_auth" });
    const ticket = randomUUID();
    this.#tickets.add(ticket);
    sendJson(res, 200, { ok: true, url: `ws://127.0.0.1:${this.#port}/link/?ticket=${ticket}` });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${this.#port}`);
    const ticket = url.searchParams.get("ticket") ?? "";
    if (url.pathname !== "/link/" || !this.#tickets.delete(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws));
  }

  #connected(ws: WebSocket): void {
    this.connections += 1;
    this.#sockets.add(ws);
    ws.on("close", () => this.#sockets.delete(ws));
    ws.on("message", (data) => this.#onClientFrame(data.toString()));
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.#sockets.size,
        debug_info: { host: "fake-slack", approximate_connection_time: 18060 },
        connection_info: { app_id: "A0TEST" },
      }),
    );
    for (const envelope of this.#envelopes.values()) {
      if (!envelope.acked) this.#send(ws, envelope, "timeout");
    }
  }

  #onClientFrame(text: string): void {
    let frame: { envelope_id?: unknown; payload?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    if (typeof frame.envelope_id !== "string") return;
    this.acks.push({ envelopeId: frame.envelope_id, payload: frame.payload });
    const envelope = this.#envelopes.get(frame.envelope_id);
    if (envelope !== undefined) envelope.acked = true;
  }

  /** The newest open connection: where Slack sends envelopes. */
  #current(): WebSocket | undefined {
    return [...this.#sockets].filter((s) => s.readyState === s.OPEN).at(-1);
  }

  #send(socket: WebSocket, envelope: SlackEnvelope, retryReason = ""): void {
    if (envelope.sends > 0) {
      envelope.retry_attempt = envelope.sends;
      envelope.retry_reason = retryReason;
    }
    envelope.sends += 1;
    const { sends: _sends, acked: _acked, ...wire } = envelope;
    socket.send(JSON.stringify(wire));
  }
}

let slackTsCounter = 0;

/** An Events API `event_callback` for a DM text message, as Socket Mode carries it in `events_api`. */
export function slackMessagePayload(
  text: string,
  options: { channel?: string; user?: string; ts?: string; team?: string } = {},
): Record<string, unknown> {
  slackTsCounter += 1;
  const ts = options.ts ?? `${1_700_000_000 + slackTsCounter}.000100`;
  return {
    token: "legacy-verification-token",
    team_id: options.team ?? "T0TEST",
    api_app_id: "A0TEST",
    type: "event_callback",
    event_id: `Ev${String(slackTsCounter).padStart(8, "0")}`,
    event_time: 1_700_000_000 + slackTsCounter,
    authorizations: [{ team_id: "T0TEST", user_id: "U0BOT", is_bot: true }],
    event: {
      type: "message",
      channel: options.channel ?? "D0TEST",
      channel_type: "im",
      user: options.user ?? "U0MEI",
      text,
      ts,
    },
  };
}
