import { randomUUID } from "node:crypto";

/**
 * The fake's side of the stream-json control protocol: JSON lines on stdout, control requests to the host
 * (`can_use_tool`, `mcp_message`) answered by `control_response` lines on stdin.
 */
export type Json = Record<string, unknown>;

export class HostError extends Error {}

interface Pending {
  resolve(response: Json): void;
  reject(error: Error): void;
}

export class Wire {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  send(message: Json): void {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends a control request to the host; rejects on an error answer or when `signal` aborts. */
  request(request: Json, signal?: AbortSignal): Promise<Json> {
    const requestId = `cli_${this.nextId++}`;
    return new Promise<Json>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(requestId);
        // What Claude Code does when the turn ends under a pending prompt: withdraw it.
        this.send({ type: "control_cancel_request", request_id: requestId });
        reject(new HostError("aborted"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(requestId, {
        resolve: (response) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(response);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      this.send({ type: "control_request", request_id: requestId, request });
    });
  }

  /** Handles a `control_response` line from the host. */
  settle(response: Json): void {
    const requestId = typeof response.request_id === "string" ? response.request_id : "";
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    if (response.subtype === "success") pending.resolve((response.response as Json | undefined) ?? {});
    else pending.reject(new HostError(String(response.error ?? "control request failed")));
  }

  answer(requestId: string, response: Json): void {
    this.send({
      type: "control_response",
      response: { subtype: "success", request_id: requestId, response },
    });
  }

  refuse(requestId: string, error: string): void {
    this.send({ type: "control_response", response: { subtype: "error", request_id: requestId, error } });
  }
}

export function uuid(): string {
  return randomUUID();
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
