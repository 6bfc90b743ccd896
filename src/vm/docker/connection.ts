import { readFileSync } from "node:fs";
import path from "node:path";
import Dockerode from "dockerode";

/** One engine of the pool, as configured. */
export interface HostEndpoint {
  readonly name: string;
  /** `unix:///var/run/docker.sock`, `tcp://host:2376` (TLS when a cert dir is set) or `ssh://user@host`. */
  readonly url: string;
}

/**
 * `CLOUDCLAUDE_DOCKER_HOSTS`: comma-separated `[name=]url` entries. A name defaults to `local` for the first
 * entry when it is a unix socket, else to the URL's host (`10-0-0-5`) or socket file: never to a position
 * in the list, since the store records names and reordering the list must not rename hosts.
 */
export function parseHostList(text: string): HostEndpoint[] {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const hosts = entries.map((entry, i): HostEndpoint => {
    const eq = entry.indexOf("=");
    const named = eq > 0 && !entry.slice(0, eq).includes(":");
    const url = named ? entry.slice(eq + 1) : entry;
    const name = named ? entry.slice(0, eq) : defaultName(url, i);
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`invalid host name ${JSON.stringify(name)}`);
    if (!/^(unix|tcp|ssh):\/\/./.test(url)) {
      throw new Error(`invalid Docker host URL ${JSON.stringify(url)}: use unix://, tcp:// or ssh://`);
    }
    return { name, url };
  });
  const names = new Set(hosts.map((h) => h.name));
  if (names.size !== hosts.length) {
    throw new Error("two Docker hosts share a name: name them explicitly, e.g. a=tcp://10.0.0.5:2376");
  }
  if (hosts.length === 0) throw new Error("no Docker host given");
  return hosts;
}

function defaultName(url: string, index: number): string {
  const parsed = new URL(url);
  if (parsed.protocol === "unix:") {
    if (index === 0) return "local";
    return path
      .basename(parsed.pathname)
      .replace(/\.sock$/, "")
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-");
  }
  return parsed.hostname
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+/, "");
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * A dockerode client for an endpoint. `tcp://` uses TLS with `ca.pem`, `cert.pem` and `key.pem` from
 * `tlsDir` when one is given (as the Docker CLI's DOCKER_CERT_PATH); `ssh://` runs the engine's API over an
 * SSH connection (keys from the SSH agent at `sshAgent`), as `docker -H ssh://` does.
 */
export function dockerClient(
  endpoint: HostEndpoint,
  options: { tlsDir?: string | undefined; sshAgent?: string | undefined } = {},
): Dockerode {
  const { tlsDir, sshAgent } = options;
  const url = new URL(endpoint.url);
  switch (url.protocol) {
    case "unix:":
      return new Dockerode({ socketPath: url.pathname });
    case "tcp:": {
      const port = Number(url.port || (tlsDir ? 2376 : 2375));
      if (!tlsDir) {
        // Plain TCP hands root on that host (and the containers' credentials) to anyone on the path.
        if (!LOOPBACK.has(url.hostname)) {
          throw new Error(
            `${endpoint.url} without TLS: set CLOUDCLAUDE_DOCKER_TLS_DIR (client certificates), or use ssh://`,
          );
        }
        return new Dockerode({ protocol: "http", host: url.hostname, port });
      }
      const read = (file: string) => readFileSync(path.join(tlsDir, file));
      return new Dockerode({
        protocol: "https",
        host: url.hostname,
        port,
        ca: read("ca.pem"),
        cert: read("cert.pem"),
        key: read("key.pem"),
      });
    }
    case "ssh:":
      return new Dockerode({
        protocol: "ssh",
        host: url.hostname,
        port: Number(url.port || 22),
        ...(url.username && { username: decodeURIComponent(url.username) }),
        ...(sshAgent && { sshOptions: { agent: sshAgent } }),
      } as Dockerode.DockerOptions);
    default:
      throw new Error(`unsupported Docker host URL ${endpoint.url}`);
  }
}
