import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A real container registry for tests: Debian's `docker-registry` (the CNCF distribution server) on
 * 127.0.0.1:5000, configuration and storage in /tmp/cloudclaude-registry (kept between runs, like the extra
 * dockerd hosts). One already answering on that address is reused. Engines treat 127.0.0.0/8 as an
 * insecure registry by default, so no TLS and no daemon configuration is needed.
 */
export const REGISTRY_ADDRESS = "127.0.0.1:5000";
const BINARY = "/usr/bin/docker-registry";
const DIR = "/tmp/cloudclaude-registry";
const FIX = "install Debian's registry server: apt-get install -y docker-registry";

export interface TestRegistry {
  /** `127.0.0.1:5000` */
  readonly address: string;
  /** Whether the registry has a manifest for `repository:tag`. */
  hasTag(repository: string, tag: string): Promise<boolean>;
}

export async function ensureRegistry(): Promise<TestRegistry> {
  const registry: TestRegistry = { address: REGISTRY_ADDRESS, hasTag };
  if (await answers()) return registry;
  try {
    accessSync(BINARY, constants.X_OK);
  } catch {
    throw new Error(`${BINARY} is missing: ${FIX}`);
  }
  mkdirSync(join(DIR, "data"), { recursive: true });
  const config = join(DIR, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(DIR, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${REGISTRY_ADDRESS}`,
      "",
    ].join("\n"),
  );
  const logFile = join(DIR, "registry.log");
  const log = openSync(logFile, "a");
  // Detached: it outlives the test process, so later test files (and runs) reuse it.
  const child = spawn(BINARY, ["serve", config], { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await answers()) return registry;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  let tail = "";
  try {
    tail = readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
  } catch {}
  throw new Error(`docker-registry did not answer on ${REGISTRY_ADDRESS}:\n${tail}`);
}

async function answers(): Promise<boolean> {
  try {
    const response = await fetch(`http://${REGISTRY_ADDRESS}/v2/`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function hasTag(repository: string, tag: string): Promise<boolean> {
  const response = await fetch(`http://${REGISTRY_ADDRESS}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" },
    signal: AbortSignal.timeout(5_000),
  });
  return response.status === 200;
}
