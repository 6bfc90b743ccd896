import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeInboxContract } from "./inbox.contract.ts";

describeInboxContract("SQLite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-inbox-"));
  return {
    database: { kind: "sqlite", path: path.join(dir, "cloudclaude.db") },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
