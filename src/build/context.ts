import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Build contexts as tar files: the clone (as `.` or under `workspace/`) plus generated files appended
 * under `<dir>/`. Packed with `tar` itself, symlinks kept as links (never followed: a repository's link to
 * /etc/… must not pull the host's files in), everything owned by root as the docker CLI sends it.
 */
export interface Context {
  readonly file: string;
  dispose(): Promise<void>;
}

export async function packContext(input: {
  source: string;
  /** Put the source under this directory instead of at the root. */
  under?: string;
  extras: Readonly<Record<string, string>>;
}): Promise<Context> {
  const staging = await mkdtemp(join(tmpdir(), "cloudclaude-context-"));
  const file = join(staging, "context.tar");
  const owner = ["--numeric-owner", "--owner=0", "--group=0"];
  try {
    const transform = input.under ? [`--transform=s,^\\.,${input.under},`] : [];
    await tar(["-cf", file, ...owner, ...transform, "-C", input.source, "."]);
    const extras = join(staging, "extras");
    for (const [path, text] of Object.entries(input.extras)) {
      const target = join(extras, path);
      await mkdir(join(target, ".."), { recursive: true });
      await writeFile(target, text);
    }
    if (Object.keys(input.extras).length > 0) await tar(["-rf", file, ...owner, "-C", extras, "."]);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { file, dispose: () => rm(staging, { recursive: true, force: true }) };
}

function tar(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("tar", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`tar ${args[0]} failed (${code}): ${stderr.trim()}`)),
    );
  });
}
