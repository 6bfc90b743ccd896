import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeBuildJobsContract } from "./jobs.contract.ts";

describeBuildJobsContract("SQLite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-builds-"));
  return {
    database: { kind: "sqlite", path: path.join(dir, "cloudclaude.db") },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
