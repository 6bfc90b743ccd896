import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import type { Registry } from "./port.ts";
import { LogTail } from "./stream.ts";

interface PushMessage {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Digest?: string };
}

/**
 * A registry reached through an engine: `docker push` of tags under its address, so every host of the
 * pool can pull them. `auth` is the engine's X-Registry-Auth (none for a registry without login, e.g.
 * 127.0.0.1:5000, which engines treat as insecure-allowed).
 */
export class DockerRegistry implements Registry {
  readonly address: string;
  readonly #docker: Dockerode;
  readonly #auth: Dockerode.AuthConfig | undefined;
  readonly #timeoutMs: number;

  /** `timeoutMs`: a push that takes longer is given up (default 10 min), so no build waits forever. */
  constructor(docker: Dockerode, address: string, auth?: Dockerode.AuthConfig, timeoutMs = 10 * 60_000) {
    this.#docker = docker;
    this.address = address.replace(/\/+$/, "");
    this.#auth = auth;
    this.#timeoutMs = timeoutMs;
  }

  async push(tag: string): Promise<{ reference: string; digest: string }> {
    if (!tag.startsWith(`${this.address}/`)) {
      throw new Error(`${tag} is not a tag of the registry ${this.address}`);
    }
    const { repository, version } = splitTag(tag);
    const stream = await this.#docker.getImage(repository).push({
      tag: version,
      authconfig: this.#auth ?? { serveraddress: this.address },
    });
    const result = await follow(stream, `docker push ${tag}`, this.#timeoutMs);
    if (!result.digest) throw new Error(`docker push ${tag} reported no digest:\n${result.tail}`);
    return { reference: `${repository}@${result.digest}`, digest: result.digest };
  }
}

/** `docker pull` of a reference (tag or digest) on a host of the pool; resolves with the image id. */
export async function pullImage(
  docker: Dockerode,
  reference: string,
  auth?: Dockerode.AuthConfig,
  timeoutMs = 10 * 60_000,
): Promise<string> {
  const stream = await docker.pull(reference, auth ? { authconfig: auth } : {});
  await follow(stream, `docker pull ${reference}`, timeoutMs);
  return (await docker.getImage(reference).inspect()).Id;
}

/** `host:5000/a/b:tag` → repository `host:5000/a/b`, tag `tag` (a port's colon is not a tag's). */
export function splitTag(tag: string): { repository: string; version: string } {
  const at = tag.lastIndexOf(":");
  if (at > tag.lastIndexOf("/")) return { repository: tag.slice(0, at), version: tag.slice(at + 1) };
  return { repository: tag, version: "latest" };
}

/** Reads an engine's progress stream to its end; the stream is cut (and this rejects) after `timeoutMs`. */
async function follow(
  stream: NodeJS.ReadableStream,
  what: string,
  timeoutMs: number,
): Promise<{ digest: string | undefined; tail: string }> {
  const tail = new LogTail(20);
  let digest: string | undefined;
  let failure: string | undefined;
  let pending = "";
  const handle = (line: string) => {
    if (!line.trim()) return;
    try {
      const message = JSON.parse(line) as PushMessage;
      if (message.error) failure = message.errorDetail?.message ?? message.error;
      if (message.status) tail.push(message.status);
      if (message.aux?.Digest) digest = message.aux.Digest;
    } catch {
      tail.push(line);
    }
  };
  const timer = setTimeout(() => {
    (stream as Readable).destroy(new Error(`${what} took longer than ${Math.round(timeoutMs / 1000)} s`));
  }, timeoutMs);
  try {
    for await (const chunk of stream) {
      pending += String(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) handle(line);
    }
  } finally {
    clearTimeout(timer);
  }
  handle(pending);
  if (failure !== undefined) throw new Error(`${what} failed: ${failure}\n${tail.toString()}`);
  return { digest, tail: tail.toString() };
}
