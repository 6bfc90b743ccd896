import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeIdentityContract } from "./identity.contract.ts";

describeIdentityContract("SQLite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-identity-"));
  return {
    database: { kind: "sqlite", path: path.join(dir, "cloudclaude.db") },
    dispose: () => rm(dir, { recursive: true, force: true }),
    // The database files as a thief would copy them: the main file and its write-ahead log.
    raw: async () => {
      const files = (await readdir(dir)).filter((f) => f.startsWith("cloudclaude.db"));
      return (await Promise.all(files.map((f) => readFile(path.join(dir, f), "latin1")))).join("");
    },
  };
});
