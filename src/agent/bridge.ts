import { connect, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { errorMessage } from "../shared/errors.ts";

export interface BridgeIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/**
 * The bridge command: the router runs it through the engine's exec (or as a child process) and talks the
 * bridge protocol over its stdin/stdout. It only moves bytes between those and the daemon's unix socket,
 * both ways, unchanged, and ends when either side closes. Exit codes: 0 after a connection, 1 when it
 * could not connect (within `waitMs`) or the connection failed.
 */
export async function runBridge(
  socketPath: string,
  io: BridgeIo,
  options: { waitMs?: number } = {},
): Promise<number> {
  let socket: Socket;
  try {
    socket = await connectWithin(socketPath, options.waitMs ?? 0);
  } catch (error) {
    io.stderr.write(
      `cloudclaude agent bridge: cannot reach the agent daemon at ${socketPath}: ${errorMessage(error)}\n`,
    );
    return 1;
  }
  let failed = false;
  const { stdin, stdout } = io;
  socket.on("data", (chunk: Buffer) => {
    if (!stdout.write(chunk)) {
      socket.pause();
      stdout.once("drain", () => socket.resume());
    }
  });
  const onInput = (chunk: Buffer) => {
    if (!socket.write(chunk)) {
      stdin.pause();
      socket.once("drain", () => stdin.resume());
    }
  };
  const onInputEnd = () => socket.end();
  stdin.on("data", onInput);
  stdin.on("end", onInputEnd);
  stdin.on("error", onInputEnd);
  socket.on("error", (error) => {
    failed = true;
    io.stderr.write(`cloudclaude agent bridge: ${errorMessage(error)}\n`);
  });
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  stdin.off("data", onInput);
  stdin.off("end", onInputEnd);
  stdin.pause();
  // Whatever the daemon sent last must reach the router before this process ends.
  await new Promise<void>((resolve) => stdout.write("", () => resolve()));
  return failed ? 1 : 0;
}

/** Connects, retrying while the daemon is not up yet (no socket, or nobody listening) for up to `waitMs`. */
async function connectWithin(path: string, waitMs: number): Promise<Socket> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect(path);
        socket.once("connect", () => {
          socket.off("error", reject);
          resolve(socket);
        });
        socket.once("error", reject);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const retryable = code === "ENOENT" || code === "ECONNREFUSED";
      if (!retryable || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
