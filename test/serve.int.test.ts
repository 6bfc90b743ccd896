import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, runCli, startCli, waitForOk } from "./support/cli.ts";
import { createTempDatabase, type TempDatabase } from "./support/postgres.ts";

describe("cloudclaude serve (the real executable)", () => {
  it("starts on SQLite in a new data dir, reports readiness, and exits 0 on SIGTERM", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "cc-serve-"));
    const port = await freePort();
    const proc = startCli(["serve"], { CLOUDCLAUDE_DATA_DIR: dataDir, CLOUDCLAUDE_PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await waitForOk(`${base}/healthz`, proc)).json()).toEqual({ status: "ok" });
    const ready = await (await fetch(`${base}/readyz`)).json();
    expect(ready).toMatchObject({
      status: "ready",
      checks: [{ name: "store", ok: true, detail: { dialect: "sqlite" } }],
    });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain(
      "cloudclaude_http_request_duration_seconds",
    );

    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain("stopped cleanly");
  });

  describe("on PostgreSQL", () => {
    let db: TempDatabase;
    beforeAll(async () => {
      db = await createTempDatabase();
    });
    afterAll(() => db.drop());

    it("migrates on start and reports the store ready", async () => {
      const port = await freePort();
      const proc = startCli(["serve"], { DATABASE_URL: db.url, CLOUDCLAUDE_PORT: String(port) });
      await waitForOk(`http://127.0.0.1:${port}/readyz`, proc);
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { checks: unknown[] };
      expect(ready.checks[0]).toMatchObject({
        ok: true,
        detail: { dialect: "postgres", pendingMigrations: 0 },
      });
      proc.child.kill("SIGINT");
      expect(await proc.exited).toBe(0);
    });
  });

  it("refuses a bad config value with one line naming the variable, exit 2", async () => {
    const { code, output } = await runCli(["serve"], { CLOUDCLAUDE_PORT: "eighty" });
    expect(code).toBe(2);
    expect(output.trim()).toMatch(/^config error: CLOUDCLAUDE_PORT="eighty" is invalid: .+$/);
  });

  it("fails with a clear message when PostgreSQL is unreachable", async () => {
    const port = await freePort();
    const { code, output } = await runCli(["migrate"], {
      DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/x`,
    });
    expect(code).toBe(1);
    expect(output).toMatch(/ECONNREFUSED|connect/);
  });

  it("prints help for every command", async () => {
    for (const args of [
      ["--help"],
      ["serve", "--help"],
      ["config", "check", "--help"],
      ["migrate", "--help"],
    ]) {
      const { code, output } = await runCli(args, {});
      expect(code).toBe(0);
      expect(output).toContain("Usage: cloudclaude");
    }
  });

  it("config check masks secrets", async () => {
    const { code, output } = await runCli(["config", "check"], {
      DATABASE_URL: "postgres://cc:hunter2@127.0.0.1:5432/cc",
    });
    expect(code).toBe(0);
    expect(output).toContain("configuration OK");
    expect(output).not.toContain("hunter2");
  });
});
