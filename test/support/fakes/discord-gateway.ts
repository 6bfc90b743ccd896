import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { closeServer, listenLoopback, readBody, sendJson } from "./http.ts";

/**
 * A fake Discord Gateway on 127.0.0.1, JSON encoding, no compression:
 * - `GET /api/v10/gateway/bot` (Authorization `Bot <token>`, else 401) gives the ws URL and 1 shard;
 * - on connect: HELLO (op 10); IDENTIFY (op 2) → READY with `session_id` and `resume_gateway_url`; a wrong
 *   token → close 4004; heartbeat (op 1) → ACK (op 11); RESUME (op 6) → the session's dispatches after the
 *   given seq, then RESUMED; an unknown or invalidated session → op 9 `false`;
 * - `dispatch` sends op 0 with increasing `s` on the current session, buffering while it is disconnected
 *   (a RESUME replays them);
 * - a client closing with 1000/1001 invalidates its session (as Discord does); other codes keep it;
 * - `sendReconnect` (op 7), `dropConnections` (TCP drop), `invalidateSession` (op 9).
 */
export const DISCORD_TEST_TOKEN = "fake-bot-token.for-the-gateway.0123456789";
export const DISCORD_TEST_APP_ID = "1100000000000000001";

interface Session {
  readonly id: string;
  seq: number;
  /** Dispatches after READY, for replay. */
  readonly log: { s: number; t: string; d: unknown }[];
  socket: WebSocket | undefined;
  valid: boolean;
}

export interface GatewayConnection {
  readonly path: string;
  readonly query: Record<string, string>;
}

export class FakeDiscordGateway {
  readonly token: string;
  readonly applicationId = DISCORD_TEST_APP_ID;
  readonly heartbeatIntervalMs: number;
  readonly connections: GatewayConnection[] = [];
  readonly identifies: { intents: number; shard: unknown; compress: unknown }[] = [];
  readonly resumes: { sessionId: string; seq: number }[] = [];
  readonly heartbeats: (number | null)[] = [];
  /** Close codes the client sent. */
  readonly clientCloses: number[] = [];
  gatewayBotRequests = 0;
  /** When false, `GET /gateway/bot` answers 503. */
  available = true;
  readonly #sessions = new Map<string, Session>();
  #current: Session | undefined;
  readonly #sockets = new Set<WebSocket>();
  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #port: number;
  #messageId = 1_200_000_000_000_000_000n;

  static async start(
    options: { token?: string; heartbeatIntervalMs?: number } = {},
  ): Promise<FakeDiscordGateway> {
    let fake: FakeDiscordGateway | undefined;
    const { server, port } = await listenLoopback((req, res) => {
      fake?.handleHttp(req, res).catch(() => sendJson(res, 500, { message: "fake error", code: 0 }));
    });
    fake = new FakeDiscordGateway(server, port, options);
    return fake;
  }

  private constructor(
    server: Server,
    port: number,
    options: { token?: string; heartbeatIntervalMs?: number },
  ) {
    this.#server = server;
    this.#port = port;
    this.token = options.token ?? DISCORD_TEST_TOKEN;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** The REST base to configure (`DISCORD_API_URL`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.#port}/gateway`;
  }

  get resumeUrl(): string {
    return `ws://127.0.0.1:${this.#port}/resume`;
  }

  get sessionId(): string | undefined {
    return this.#current?.id;
  }

  /** The current session's last sequence number. */
  get seq(): number {
    return this.#current?.seq ?? 0;
  }

  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Sends a dispatch on the current session (buffered for RESUME while disconnected). Returns its `s`. */
  dispatch(t: string, d: unknown): number {
    const session = this.#current;
    if (session === undefined) throw new Error("no Gateway session yet: wait for the client to IDENTIFY");
    session.seq += 1;
    const entry = { s: session.seq, t, d };
    session.log.push(entry);
    session.socket?.send(JSON.stringify({ op: 0, ...entry }));
    return entry.s;
  }

  /** A MESSAGE_CREATE in a DM from a person. Returns the message id and the dispatch's `s`. */
  messageCreate(content: string, overrides: Record<string, unknown> = {}): { id: string; seq: number } {
    this.#messageId += 1n << 22n;
    const id = String(this.#messageId);
    const seq = this.dispatch("MESSAGE_CREATE", {
      id,
      channel_id: "1300000000000000001",
      type: 0,
      content,
      author: { id: "1400000000000000001", username: "mei", global_name: "Mei", discriminator: "0" },
      timestamp: new Date().toISOString(),
      mentions: [],
      attachments: [],
      ...overrides,
    });
    return { id, seq };
  }

  sendReconnect(): void {
    for (const socket of this.#sockets) socket.send(JSON.stringify({ op: 7, d: null }));
  }

  dropConnections(): void {
    for (const socket of this.#sockets) socket.terminate();
  }

  /** Invalidates the current session and tells the client with op 9 `false`. */
  invalidateSession(): void {
    const session = this.#current;
    if (session === undefined) return;
    session.valid = false;
    session.socket?.send(JSON.stringify({ op: 9, d: false }));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    this.#wss.close();
    await closeServer(this.#server);
  }

  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    if (req.method !== "GET" || req.url !== "/api/v10/gateway/bot") {
      return sendJson(res, 404, { message: "404: Not Found", code: 0 });
    }
    this.gatewayBotRequests += 1;
    if (!this.available) return sendJson(res, 503, { message: "Service Unavailable", code: 0 });
    if (req.headers.authorization !== `Bot ${this.token}`) {
      return sendJson(res, 401, { message: "401: Unauthorized", code: 0 });
    }
    sendJson(res, 200, {
      url: this.gatewayUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${this.#port}`);
    if (url.pathname !== "/gateway" && url.pathname !== "/resume") {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n");
      return;
    }
    this.connections.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws));
  }

  #connected(ws: WebSocket): void {
    this.#sockets.add(ws);
    let session: Session | undefined;
    ws.on("message", (data) => {
      session = this.#onFrame(ws, data, session);
    });
    ws.on("close", (code) => {
      this.#sockets.delete(ws);
      if (session?.socket === ws) session.socket = undefined;
      // ws reports 1005/1006 for a close without code or a dropped socket: the client did not choose them.
      if (code !== 1005 && code !== 1006) this.clientCloses.push(code);
      if (session !== undefined && (code === 1000 || code === 1001)) session.valid = false;
    });
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } }));
  }

  #onFrame(ws: WebSocket, data: RawData, session: Session | undefined): Session | undefined {
    const frame = JSON.parse(data.toString()) as { op: number; d: Record<string, unknown> | number | null };
    const d = typeof frame.d === "object" && frame.d !== null ? frame.d : {};
    switch (frame.op) {
      case 1:
        this.heartbeats.push(typeof frame.d === "number" ? frame.d : null);
        ws.send(JSON.stringify({ op: 11 }));
        return session;
      case 2: {
        this.identifies.push({ intents: Number(d.intents), shard: d.shard, compress: d.compress });
        if (d.token !== this.token) {
          ws.close(4004, "Authentication failed.");
          return session;
        }
        const fresh: Session = {
          id: randomUUID().replaceAll("-", ""),
          seq: 1,
          log: [],
          socket: ws,
          valid: true,
        };
        this.#sessions.set(fresh.id, fresh);
        this.#current = fresh;
        ws.send(
          JSON.stringify({
            op: 0,
            t: "READY",
            s: fresh.seq,
            d: {
              v: 10,
              user: { id: this.applicationId, username: "cloudclaude", discriminator: "0", bot: true },
              guilds: [],
              session_id: fresh.id,
              resume_gateway_url: this.resumeUrl,
              shard: [0, 1],
              application: { id: this.applicationId, flags: 0 },
            },
          }),
        );
        return fresh;
      }
      case 6: {
        const resumed = this.#sessions.get(String(d.session_id));
        const seq = Number(d.seq);
        this.resumes.push({ sessionId: String(d.session_id), seq });
        if (resumed === undefined || !resumed.valid || d.token !== this.token) {
          ws.send(JSON.stringify({ op: 9, d: false }));
          return session;
        }
        if (seq > resumed.seq) {
          ws.close(4007, "Invalid seq.");
          return session;
        }
        resumed.socket = ws;
        this.#current = resumed;
        for (const entry of resumed.log) if (entry.s > seq) ws.send(JSON.stringify({ op: 0, ...entry }));
        resumed.seq += 1;
        ws.send(JSON.stringify({ op: 0, t: "RESUMED", s: resumed.seq, d: {} }));
        return resumed;
      }
      default:
        return session;
    }
  }
}
