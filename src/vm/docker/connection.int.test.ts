import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerClient } from "./connection.ts";

/**
 * A `tcp://` host with mutual TLS, as engines are exposed to a pool: certificates made with openssl, and a
 * TLS endpoint on 127.0.0.1 in front of the machine's real engine (dockerd itself would do the same with
 * --tlsverify; the client side, ours, is what this checks).
 */
let dir: string;
let server: tls.Server;
let port: number;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cc-docker-tls-"));
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
  );
  await writeFile(path.join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1\n");
  for (const who of ["server", "key"]) {
    const out = who === "server" ? "server" : "cert";
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${who}`,
      "-keyout",
      `${who === "server" ? "server-key" : "key"}.pem`,
      "-out",
      `${out}.csr`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      `${out}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-days",
      "1",
      "-out",
      `${out}.pem`,
      ...(who === "server" ? ["-extfile", "san.cnf"] : []),
    );
  }
  const read = (f: string) => readFile(path.join(dir, f));
  server = tls.createServer(
    {
      key: await read("server-key.pem"),
      cert: await read("server.pem"),
      ca: await read("ca.pem"),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => {
      const engine = connect("/var/run/docker.sock");
      socket.pipe(engine).pipe(socket);
      const end = () => {
        socket.destroy();
        engine.destroy();
      };
      socket.on("error", end);
      engine.on("error", end);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
}, 60_000);

afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

describe("tcp:// Docker hosts with TLS", () => {
  it("reach the engine with the client certificate from CLOUDCLAUDE_DOCKER_TLS_DIR", async () => {
    const docker = dockerClient({ name: "tls", url: `tcp://127.0.0.1:${port}` }, { tlsDir: dir });
    const version = await docker.version();
    expect(version.ApiVersion).toMatch(/^\d+\.\d+$/);
    expect((await docker.listContainers({ limit: 1 })).length).toBeGreaterThanOrEqual(0);
  });

  it("are refused without a client certificate", async () => {
    const plain = dockerClient({ name: "tls", url: `tcp://127.0.0.1:${port}` });
    await expect(plain.version()).rejects.toThrow();
  });
});
