import { unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../shared/logger.ts";
import { LineSplitter } from "../lines.ts";
import { type AgentEvent, type DaemonReply, encodeFrame, RouterFrame } from "../protocol.ts";
import type { EventLog } from "./event-log.ts";

/**
 * A frame bigger than this is dropped. Only a `turn` frame with files comes near: up to
 * MAX_TURN_ATTACHMENT_BYTES as base64 (about 54 MiB).
 */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface BridgeServerOptions {
  readonly socketPath: string;
  readonly log: EventLog;
  readonly logger: Logger;
  /** The `welcome` reply without `lastSeq`. */
  readonly welcome: Omit<Extract<DaemonReply, { type: "welcome" }>, "lastSeq">;
  /** Every frame except `hello`; `reply` answers on the connection the frame came from. */
  readonly onFrame: (frame: RouterFrame, reply: (frame: DaemonReply) => void) => void;
}

/**
 * The daemon's unix socket. Any connection may send commands; events go to the one that said `hello` last
 * (a new bridge replaces the old one, whose connection is closed). A connection that never says hello, such
 * as another daemon probing whether this one is alive, disturbs nobody.
 */
export class BridgeServer {
  private readonly options: BridgeServerOptions;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private attached: Connection | undefined;

  private constructor(options: BridgeServerOptions, server: Server) {
    this.options = options;
    this.server = server;
  }

  static async listen(options: BridgeServerOptions): Promise<BridgeServer> {
    await claimSocketPath(options.socketPath);
    const server = createServer();
    const bridge = new BridgeServer(options, server);
    server.on("connection", (socket) => bridge.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return bridge;
  }

  /** Live events, already durable, in seq order. */
  deliver(events: readonly AgentEvent[]): void {
    this.attached?.deliver(events);
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.options.socketPath).catch(() => {});
  }

  private accept(socket: Socket): void {
    const connection = new Connection(socket);
    this.connections.add(connection);
    const { logger } = this.options;
    const splitter = new LineSplitter({
      maxBytes: MAX_FRAME_BYTES,
      onLine: (line) => this.onLine(connection, line),
      onOversized: (bytes) => logger.warn({ bytes }, "dropped an oversized frame"),
    });
    socket.on("data", (chunk: Buffer) => splitter.push(chunk));
    socket.on("error", (error) => logger.debug({ err: error }, "bridge connection error"));
    socket.on("close", () => {
      connection.closed = true;
      this.connections.delete(connection);
      if (this.attached === connection) {
        this.attached = undefined;
        logger.info("bridge detached");
      }
    });
  }

  private onLine(connection: Connection, line: string): void {
    const { logger } = this.options;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      logger.warn({ frame: line.slice(0, 200) }, "ignoring a frame that is not JSON");
      return;
    }
    const parsed = RouterFrame.safeParse(json);
    if (!parsed.success) {
      logger.warn(
        { frame: line.slice(0, 200), issues: parsed.error.issues.slice(0, 3) },
        "ignoring an invalid frame",
      );
      return;
    }
    const frame = parsed.data;
    if (frame.type === "hello") {
      if (frame.protocol !== this.options.welcome.protocol) {
        logger.warn(
          { theirs: frame.protocol, ours: this.options.welcome.protocol },
          "bridge protocol mismatch",
        );
      }
      if (this.attached && this.attached !== connection) this.attached.socket.destroy();
      this.attached = connection;
      logger.info({ resumeFrom: frame.resumeFrom }, "bridge attached");
      void this.replay(connection, frame.resumeFrom);
      return;
    }
    try {
      this.options.onFrame(frame, (reply) => connection.write(encodeFrame(reply)));
    } catch (error) {
      logger.error({ err: error, type: frame.type }, "handling a frame failed");
    }
  }

  /** welcome, then every durable event after `resumeFrom` read back from the log, then live events. */
  private async replay(connection: Connection, resumeFrom: number): Promise<void> {
    const { log, logger } = this.options;
    const generation = ++connection.generation;
    const upTo = log.durableSeq;
    connection.mode = "replaying";
    connection.backlog = [];
    // A router ahead of the log (its volume was replaced) restarts from what exists; welcome tells it.
    connection.sentThrough = Math.min(resumeFrom, upTo);
    connection.write(encodeFrame({ ...this.options.welcome, lastSeq: upTo }));
    try {
      for await (const event of log.readFrom(connection.sentThrough, upTo)) {
        if (connection.closed || connection.generation !== generation) return;
        await connection.writeAsync(encodeFrame(event));
        connection.sentThrough = event.seq;
      }
    } catch (error) {
      logger.error({ err: error }, "replay failed");
      connection.socket.destroy();
      return;
    }
    if (connection.closed || connection.generation !== generation) return;
    connection.mode = "live";
    const backlog = connection.backlog;
    connection.backlog = [];
    connection.deliver(backlog);
  }
}

class Connection {
  readonly socket: Socket;
  mode: "new" | "replaying" | "live" = "new";
  sentThrough = 0;
  backlog: AgentEvent[] = [];
  generation = 0;
  closed = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  deliver(events: readonly AgentEvent[]): void {
    if (this.mode === "replaying") {
      this.backlog.push(...events);
      return;
    }
    if (this.mode !== "live") return;
    for (const event of events) {
      if (event.seq <= this.sentThrough) continue;
      this.write(encodeFrame(event));
      this.sentThrough = event.seq;
    }
  }

  write(data: string): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  /** Writes, and waits for the socket to drain when its buffer is full (replay of a long log). */
  async writeAsync(data: string): Promise<void> {
    if (this.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }
}

/**
 * Takes the socket path, refusing when another daemon answers on it (two daemons must never append to one
 * log). A stale file left by a crashed daemon refuses connections and is removed. The probe connects and
 * leaves without a hello, so the live daemon's bridge is not disturbed.
 */
async function claimSocketPath(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive) throw new Error(`another agent daemon is running on ${path}`);
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
