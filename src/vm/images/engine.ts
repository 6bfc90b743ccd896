import Dockerode from "dockerode";
import { dockerClient } from "../docker/connection.ts";
import type { Progress } from "./names.ts";

/** A build step failed; `log` holds the last lines of the engine's (or tool's) output. */
export class ImageBuildError extends Error {
  readonly log: string;
  constructor(message: string, log: string, options?: ErrorOptions) {
    super(log ? `${message}\n--- last lines of the build log ---\n${log}` : message, options);
    this.name = "ImageBuildError";
    this.log = log;
  }
}

/**
 * A dockerode client for an engine URL as in CLOUDCLAUDE_DOCKER_HOSTS (unix://, tcp://, ssh://; TLS
 * certificates from CLOUDCLAUDE_DOCKER_TLS_DIR or DOCKER_CERT_PATH, SSH keys from the SSH agent).
 * Without a URL: DOCKER_HOST, else /var/run/docker.sock (dockerode's own default).
 */
export function dockerFromUrl(url?: string, env: NodeJS.ProcessEnv = process.env): Dockerode {
  if (!url) return new Dockerode();
  return dockerClient(
    { name: "cli", url },
    { tlsDir: env.CLOUDCLAUDE_DOCKER_TLS_DIR ?? env.DOCKER_CERT_PATH, sshAgent: env.SSH_AUTH_SOCK },
  );
}

/** Keeps the last `max` lines of a log. */
export class LogTail {
  readonly #lines: string[] = [];
  readonly #max: number;
  constructor(max = 40) {
    this.#max = max;
  }
  push(text: string): void {
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      this.#lines.push(line.trimEnd());
      if (this.#lines.length > this.#max) this.#lines.shift();
    }
  }
  toString(): string {
    return this.#lines.join("\n");
  }
}

/** One JSON line of the engine's streamed answers (build, import, load, push, pull). */
export interface EngineMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * The engine's streamed answers (build, import, load, push, pull) are JSON lines that may arrive split
 * across chunks: yields each line parsed, or as the raw string when it is not JSON.
 */
export async function* engineMessages(
  stream: AsyncIterable<string | Buffer>,
): AsyncGenerator<EngineMessage | string> {
  const parse = (line: string): EngineMessage | string => {
    try {
      return JSON.parse(line) as EngineMessage;
    } catch {
      return line;
    }
  };
  let pending = "";
  for await (const chunk of stream) {
    pending += String(chunk);
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") yield parse(line);
  }
  if (pending.trim() !== "") yield parse(pending);
}

/**
 * Reads the JSON-lines answer of /build, /images/create (import) or /images/load to its end. The engine
 * reports failures inside the stream (HTTP 200 then an `error` message), so this is where they surface.
 * Build steps ("Step 3/9 : COPY …") go to `progress`. Resolves with the last `aux.ID` or `status`.
 */
export async function followEngineStream(
  stream: AsyncIterable<string | Buffer>,
  what: string,
  progress?: Progress,
  tail = new LogTail(),
): Promise<string | undefined> {
  let result: string | undefined;
  let failure: string | undefined;
  for await (const message of engineMessages(stream)) {
    if (typeof message === "string") {
      tail.push(message);
      continue;
    }
    if (message.error) failure = message.errorDetail?.message ?? message.error;
    if (message.stream) {
      tail.push(message.stream);
      const step = /^Step \d+\/\d+ : .*/m.exec(message.stream);
      if (step) progress?.(step[0].length > 100 ? `${step[0].slice(0, 99)}…` : step[0]);
    }
    if (message.status) {
      tail.push(message.status);
      result = message.status;
    }
    if (message.aux?.ID) result = message.aux.ID;
  }
  if (failure !== undefined) throw new ImageBuildError(`${what} failed: ${failure}`, tail.toString());
  return result;
}

/** Whether the engine has an image by that reference. */
export async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** Points `repo:tag` at the image `ref` (idempotent). */
export async function tagImage(docker: Dockerode, ref: string, repo: string, tag: string): Promise<void> {
  await docker.getImage(ref).tag({ repo, tag });
}
