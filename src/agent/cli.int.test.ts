import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BridgeClient,
  startDaemon,
  stopDaemon,
  tempHome,
  turnFrame,
  waitForDaemon,
} from "../../test/support/fake-claude/agent-harness.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += String(d);
  });
  child.stderr.on("data", (d) => {
    err += String(d);
  });
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.once("exit", (code) => resolve({ code, out, err })),
  );
}

describe("agent commands", () => {
  it("prints usage on --help and exits 0", async () => {
    const daemon = await run(["daemon", "--help"]);
    expect(daemon.code).toBe(0);
    expect(daemon.out).toContain("cloudclaude agent daemon --home <dir> --kind switchboard|project");
    const bridge = await run(["bridge", "--help"]);
    expect(bridge.code).toBe(0);
    expect(bridge.out).toContain("cloudclaude agent bridge --home <dir>");
    expect((await run([])).code).toBe(0);
  });

  it("exits 2 on usage errors and a bad environment", async () => {
    expect((await run(["daemon", "--kind", "project"])).err).toContain("--home is required");
    const badKind = await run(["daemon", "--home", tempHome(), "--kind", "robot"]);
    expect(badKind).toMatchObject({ code: 2 });
    expect(badKind.err).toContain("--kind must be switchboard or project");
    const badEnv = await run(["daemon", "--home", tempHome(), "--kind", "project"], {
      CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: "ten minutes",
    });
    expect(badEnv.code).toBe(2);
    expect(badEnv.err).toContain("CLOUDCLAUDE_PERMISSION_TIMEOUT_MS");
    expect((await run(["teleport"])).code).toBe(2);
  });

  it("bridge exits 1 with a clear message when no daemon runs", async () => {
    const result = await run(["bridge", "--home", tempHome()]);
    expect(result.code).toBe(1);
    expect(result.err).toContain("cannot reach the agent daemon");
  });

  it("works with a home too deep for a unix socket path", async () => {
    const home = join(
      tempHome(),
      "a-rather-long-directory-name-for-the-agent-home",
      "and-then-some-more-depth",
    );
    expect(join(home, "agent", "daemon.sock").length).toBeGreaterThan(108);
    const daemon = startDaemon({ home });
    try {
      await waitForDaemon(daemon);
      const bridge = await BridgeClient.attach(home);
      const frame = turnFrame("deep", "echo deep");
      bridge.send(frame);
      expect(await bridge.ended(frame.turnId)).toMatchObject({ type: "turn_finished", text: "echo: deep" });
      await bridge.close();
    } finally {
      await stopDaemon(daemon);
    }
  });
});
