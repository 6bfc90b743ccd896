import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A git server on 127.0.0.1 for tests: `git http-backend` (smart HTTP, what GitHub speaks) behind a small
 * node:http CGI wrapper. Repositories under `/public/…` are open; under `/private/…` they need HTTP basic
 * auth whose password is `token` (any user name, as GitHub accepts `x-access-token:<token>`).
 */
export interface GitServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly token: string;
  /** Authorization headers seen on private requests (to check the token travelled only there). */
  readonly authorizations: string[];
  /** Creates a bare repository `<area>/<name>.git` holding `files` on `branch`; returns its URL. */
  createRepo(
    area: "public" | "private",
    name: string,
    files: Readonly<Record<string, string>>,
    branch?: string,
  ): string;
  close(): Promise<void>;
}

const FIX = "install git (apt-get install -y git), which brings git http-backend";

export async function startGitServer(token: string): Promise<GitServer> {
  const backend = findHttpBackend();
  const root = mkdtempSync(join(tmpdir(), "cloudclaude-git-"));
  const authorizations: string[] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname.startsWith("/private/")) {
      const header = req.headers.authorization ?? "";
      if (header) authorizations.push(header);
      const password = header.startsWith("Basic ")
        ? Buffer.from(header.slice(6), "base64").toString().split(":").slice(1).join(":")
        : "";
      if (password !== token) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="private"' }).end("authentication required\n");
        return;
      }
    } else if (!url.pathname.startsWith("/public/")) {
      res.writeHead(404).end();
      return;
    }
    cgi(backend, root, req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    token,
    authorizations,
    createRepo(area, name, files, branch = "main") {
      const work = mkdtempSync(join(tmpdir(), "cloudclaude-git-work-"));
      try {
        for (const [path, text] of Object.entries(files)) {
          mkdirSync(join(work, path, ".."), { recursive: true });
          writeFileSync(join(work, path), text);
        }
        git(work, "init", "-q", "-b", branch);
        git(work, "add", "-A");
        git(
          work,
          "-c",
          "user.name=Test",
          "-c",
          "user.email=test@example.invalid",
          "commit",
          "-q",
          "-m",
          "init",
        );
        const bare = join(root, area, `${name}.git`);
        mkdirSync(join(root, area), { recursive: true });
        git(root, "clone", "-q", "--bare", work, bare);
        git(bare, "config", "http.receivepack", "false");
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
      return `${base}/${area}/${name}.git`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function cgi(backend: string, root: string, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const child = spawn(backend, [], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
      HTTP_GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      REMOTE_ADDR: "127.0.0.1",
      REMOTE_USER: "test",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  // The backend may answer (and exit) before reading the whole request body.
  child.stdin.on("error", () => {});
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headerDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    headerDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.stdout.on("end", () => res.end());
  child.once("error", () => res.writeHead(500).end());
}

function findHttpBackend(): string {
  const execPath = spawnSync("git", ["--exec-path"], { encoding: "utf8" });
  if (execPath.status !== 0) throw new Error(`git is not installed: ${FIX}`);
  const backend = join(execPath.stdout.trim(), "git-http-backend");
  const probe = spawnSync(backend, [], { env: { REQUEST_METHOD: "GET" }, encoding: "utf8" });
  if (probe.error) throw new Error(`${backend} cannot run: ${FIX}`);
  return backend;
}

function git(cwd: string, ...args: string[]): void {
  const result = spawnSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
}
