import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeStoreContract } from "./store.contract.ts";

describeStoreContract("SQLite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-store-"));
  return {
    database: { kind: "sqlite", path: path.join(dir, "nested", "cloudclaude.db") },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
