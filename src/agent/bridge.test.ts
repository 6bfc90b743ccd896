import { mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { runBridge } from "./bridge.ts";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
});

function socketPath(): string {
  return join(mkdtempSync(join(tmpdir(), "cc-bridge-")), "d.sock");
}

function listen(path: string, onSocket: (socket: Socket) => void): Promise<Server> {
  const server = createServer(onSocket);
  servers.push(server);
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

function io() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => {
    out += String(d);
  });
  stderr.on("data", (d) => {
    err += String(d);
  });
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

describe("runBridge", () => {
  it("moves bytes both ways unchanged and exits 0 when stdin ends", async () => {
    const path = socketPath();
    let received = "";
    await listen(path, (socket) => {
      socket.on("data", (d) => {
        received += String(d);
        socket.write(`echo:${String(d)}`);
      });
    });
    const streams = io();
    const done = runBridge(path, streams);
    streams.stdin.write('{"type":"ping","id":"1"}\n');
    await new Promise((r) => setTimeout(r, 100));
    streams.stdin.end();
    expect(await done).toBe(0);
    expect(received).toBe('{"type":"ping","id":"1"}\n');
    expect(streams.out()).toBe('echo:{"type":"ping","id":"1"}\n');
  });

  it("delivers everything the daemon sent before it closed, then exits 0", async () => {
    const path = socketPath();
    const big = `${"x".repeat(1_000_000)}\n`;
    await listen(path, (socket) => socket.end(big));
    const streams = io();
    expect(await runBridge(path, streams)).toBe(0);
    expect(streams.out()).toBe(big);
  });

  it("exits 1 with a clear message when nothing listens", async () => {
    const streams = io();
    expect(await runBridge(socketPath(), streams)).toBe(1);
    expect(streams.err()).toContain("cannot reach the agent daemon");
  });

  it("waits for a daemon that is still starting", async () => {
    const path = socketPath();
    const streams = io();
    const done = runBridge(path, streams, { waitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    await listen(path, (socket) => socket.end("hi\n"));
    expect(await done).toBe(0);
    expect(streams.out()).toBe("hi\n");
  });
});
