import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, describeConfig, loadConfig, maskSecret, VARIABLE_NAMES } from "./index.ts";

const cwd = "/srv/cc";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const { config } = loadConfig({ env: {}, cwd });
    expect(config).toMatchObject({
      dataDir: "/srv/cc/data",
      http: { host: "127.0.0.1", port: 8080, publicUrl: undefined },
      database: { kind: "sqlite", path: "/srv/cc/data/cloudclaude.db" },
      log: { level: "info" },
      shutdownTimeoutMs: 10_000,
      inbox: { maxAttempts: 5, retentionMs: 48 * 3_600_000 },
    });
    // No platform is on until its secret is set.
    expect(config.platforms.line.channelSecret).toBeUndefined();
    expect(config.platforms.slack.signingSecret).toBeUndefined();
    expect(config.platforms.discord).toMatchObject({ publicKey: undefined, gateway: true });
    expect(config.platforms.telegram).toMatchObject({ webhookSecret: undefined, mode: "webhook" });
  });

  it("selects PostgreSQL from a postgres:// DATABASE_URL", () => {
    const url = "postgres://cc:pw@db.internal:5432/cc";
    expect(loadConfig({ env: { DATABASE_URL: url }, cwd }).config.database).toEqual({
      kind: "postgres",
      url,
    });
  });

  it("treats empty strings as unset", () => {
    const { config } = loadConfig({ env: { CLOUDCLAUDE_PORT: " ", DATABASE_URL: "" }, cwd });
    expect(config.http.port).toBe(8080);
    expect(config.database.kind).toBe("sqlite");
  });

  it.each([
    ["CLOUDCLAUDE_PORT", "abc", /^CLOUDCLAUDE_PORT="abc" is invalid: expected an integer from 1 to 65535\. /],
    ["CLOUDCLAUDE_PORT", "70000", /^CLOUDCLAUDE_PORT="70000" is invalid/],
    ["DATABASE_URL", "mysql://x@y/z", /^DATABASE_URL=\(hidden\) is invalid: expected a postgres:\/\/ URL\. /],
    ["CLOUDCLAUDE_PUBLIC_URL", "ftp://x", /^CLOUDCLAUDE_PUBLIC_URL="ftp:\/\/x" is invalid/],
    ["LOG_LEVEL", "loud", /^LOG_LEVEL="loud" is invalid: expected one of fatal/],
    ["CLOUDCLAUDE_BUILD_NETWORK", "host", /^CLOUDCLAUDE_BUILD_NETWORK="host" is invalid: .*host is refused/],
  ])("rejects %s=%s with one line naming the variable and the fix", (name, value, pattern) => {
    let error: unknown;
    try {
      loadConfig({ env: { [name]: value }, cwd });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
    expect(problems[0]).not.toContain("\n");
  });

  it("checks rules across variables", () => {
    expect(() => loadConfig({ env: { TELEGRAM_MODE: "polling" }, cwd })).toThrow(
      /^TELEGRAM_MODE=polling needs TELEGRAM_BOT_TOKEN\./,
    );
  });

  it("reports every bad variable at once", () => {
    expect(() => loadConfig({ env: { CLOUDCLAUDE_PORT: "x", LOG_LEVEL: "y" }, cwd })).toThrow(
      expect.objectContaining({
        problems: [expect.stringMatching(/^CLOUDCLAUDE_PORT/), expect.stringMatching(/^LOG_LEVEL/)],
      }),
    );
  });

  it("reads a config file, with the environment winning", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cc-config-"));
    const file = path.join(dir, "cc.env");
    await writeFile(file, "CLOUDCLAUDE_PORT=9000\nLOG_LEVEL=debug\n# a comment\n");
    const loaded = loadConfig({ env: { LOG_LEVEL: "warn" }, cwd: dir, file: "cc.env" });
    expect(loaded.config.http.port).toBe(9000);
    expect(loaded.config.log.level).toBe("warn");
    expect(loaded.sources.CLOUDCLAUDE_PORT).toEqual({ raw: "9000", source: "file" });
    expect(loaded.sources.LOG_LEVEL.source).toBe("environment");
    expect(loaded.file).toBe(file);
  });

  it("reads ./.env when present and names the file in errors", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cc-config-"));
    await writeFile(path.join(dir, ".env"), "CLOUDCLAUDE_PORT=nope\n");
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrow(`(from ${path.join(dir, ".env")})`);
  });

  it("fails clearly when an explicit config file is missing", () => {
    expect(() => loadConfig({ env: { CLOUDCLAUDE_CONFIG_FILE: "missing.env" }, cwd })).toThrow(
      /Config file \/srv\/cc\/missing\.env does not exist/,
    );
  });
});

describe("describeConfig", () => {
  it("masks secrets and shows sources", () => {
    const loaded = loadConfig({ env: { DATABASE_URL: "postgres://cc:hunter2@db:5432/cc" }, cwd });
    const text = describeConfig(loaded).join("\n");
    expect(text).not.toContain("hunter2");
    expect(text).toMatch(/DATABASE_URL\s+postgres:\/\/cc:\*\*\*\*@db:5432\/cc\s+\[environment\]/);
    expect(text).toMatch(/CLOUDCLAUDE_PORT\s+8080\s+\[default\]/);
  });

  it("masks plain secrets, keeping only a hint of long ones", () => {
    expect(maskSecret("short")).toBe("****");
    expect(maskSecret("sk-ant-abcdefghijkl")).toBe("****ijkl");
  });
});

describe(".env.example", () => {
  it("documents every variable the catalog reads, and only those", async () => {
    const text = await readFile(new URL("../../.env.example", import.meta.url), "utf8");
    const mentioned = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect([...mentioned].sort()).toEqual([...VARIABLE_NAMES].sort());
    // And the uncommented values are themselves valid.
    expect(() => loadConfig({ env: parseEnv(text), cwd })).not.toThrow();
  });
});
