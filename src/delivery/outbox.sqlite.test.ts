import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeOutboxContract } from "./outbox.contract.ts";

describeOutboxContract("SQLite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-outbox-"));
  return {
    database: { kind: "sqlite", path: path.join(dir, "cloudclaude.db") },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
