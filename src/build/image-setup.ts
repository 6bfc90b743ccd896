/**
 * Runs inside the environment image during our layer (as root, with our Node.js, so the project image
 * needs no shell): makes uid/gid 1000 the `agent` user with home /home/agent, whatever the project image
 * called it (the node images call it `node`), and checks that git is there. Standalone: node: modules only.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const UID = "1000";
const HOME = "/home/agent";

function ensureEntry(file: string, id: string, fresh: string, edit: (fields: string[]) => string[]): void {
  const lines = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : [];
  const at = lines.findIndex((line) => line.split(":")[2] === id);
  if (at >= 0) lines[at] = edit((lines[at] as string).split(":")).join(":");
  else lines.push(fresh);
  writeFileSync(file, `${lines.join("\n")}\n`);
}

mkdirSync("/etc", { recursive: true });
ensureEntry("/etc/passwd", UID, `agent:x:${UID}:${UID}:CloudClaude agent:${HOME}:/bin/sh`, (f) => {
  f[0] = "agent";
  f[3] = UID;
  f[5] = HOME;
  return f;
});
ensureEntry("/etc/group", UID, `agent:x:${UID}:`, (f) => {
  f[0] = "agent";
  return f;
});
mkdirSync(HOME, { recursive: true });
chownSync(HOME, 1000, 1000);
mkdirSync("/tmp", { recursive: true });
chmodSync("/tmp", 0o1777);

const git = spawnSync("git", ["--version"], { encoding: "utf8" });
if (git.status !== 0) {
  console.error(
    "CloudClaude needs git in the environment image (Claude Code works in a git checkout): install it " +
      "in your Dockerfile, e.g. `RUN apt-get update && apt-get install -y git`.",
  );
  process.exit(1);
}
console.log(`agent user ready (${HOME}), ${git.stdout.trim()}`);
