import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 (the real port when 0 was asked for). */
  readonly url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish, and resolves when the listener is closed.
   * After `graceMs`, remaining connections are cut. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

export async function startHttpServer(
  app: Hono,
  options: { host: string; port: number },
): Promise<RunningServer> {
  const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          if ("closeAllConnections" in server) server.closeAllConnections();
        }, graceMs);
        cut.unref();
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        // Keep-alive connections with no request in flight would otherwise hold close() open.
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      });
      return closing;
    },
  };
}
