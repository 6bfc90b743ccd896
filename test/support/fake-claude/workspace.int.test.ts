import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BridgeClient,
  type DaemonProcess,
  startDaemon,
  stopDaemon,
  tempHome,
  turnFrame,
  waitForDaemon,
} from "./agent-harness.ts";

/** The fake Claude Code's `cat` and `ls`, through the real daemon (its cwd is the agent's workspace). */
const home = tempHome("cc-fake-ws-");
let daemon: DaemonProcess;
let bridge: BridgeClient;

beforeAll(async () => {
  daemon = startDaemon({ home });
  await waitForDaemon(daemon);
  const workspace = join(home, "workspace");
  mkdirSync(join(workspace, ".git"), { recursive: true });
  mkdirSync(join(workspace, "src"), { recursive: true });
  writeFileSync(join(workspace, "README.md"), "# sample\nsecond line\n");
  writeFileSync(join(workspace, "src", "b.ts"), "");
  writeFileSync(join(workspace, "src", "a.ts"), "");
  writeFileSync(join(workspace, "big.txt"), "x".repeat(5000));
  bridge = await BridgeClient.attach(home);
});

afterAll(async () => {
  await bridge?.close();
  if (daemon) await stopDaemon(daemon);
});

async function answer(text: string): Promise<string> {
  const frame = turnFrame("chat-ws", text);
  bridge.send(frame);
  const end = await bridge.ended(frame.turnId);
  if (end.type !== "turn_finished") throw new Error(`turn failed: ${JSON.stringify(end)}`);
  return end.text;
}

describe("fake Claude Code: looking at the working tree", () => {
  it("cat answers a file's contents (at most 4000 characters), or missing", async () => {
    expect(await answer("cat README.md")).toBe("cat README.md:\n# sample\nsecond line\n");
    expect(await answer("cat big.txt")).toBe(`cat big.txt:\n${"x".repeat(4000)}`);
    expect(await answer("cat nope.txt")).toBe("missing nope.txt");
  });

  it("ls answers the sorted entries, dotfiles included, or missing", async () => {
    expect(await answer("ls")).toBe("ls .: .git README.md big.txt src");
    expect(await answer("ls src")).toBe("ls src: a.ts b.ts");
    expect(await answer("ls nope")).toBe("missing nope");
  });
});
