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
 * `CLOUDCLAUDE_DOCKER_HOSTS`: comma-separated `[name=]url` entries. Names default to `local` for the first
 * unix socket and `host<N>` otherwise; they are what the store records, so keep them stable.
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
    const name = named ? entry.slice(0, eq) : i === 0 && url.startsWith("unix:") ? "local" : `host${i + 1}`;
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`invalid host name ${JSON.stringify(name)}`);
    if (!/^(unix|tcp|ssh):\/\/./.test(url)) {
      throw new Error(`invalid Docker host URL ${JSON.stringify(url)}: use unix://, tcp:// or ssh://`);
    }
    return { name, url };
  });
  const names = new Set(hosts.map((h) => h.name));
  if (names.size !== hosts.length) throw new Error("two Docker hosts share a name");
  if (hosts.length === 0) throw new Error("no Docker host given");
  return hosts;
}

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
      if (!tlsDir) return new Dockerode({ protocol: "http", host: url.hostname, port });
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
