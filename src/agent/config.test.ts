import { describe, expect, it } from "vitest";
import { agentSettings } from "./config.ts";
import { parseToolInput, qualifiedToolName, SWITCHBOARD_TOOLS } from "./switchboard-tools.ts";

const env = {
  PATH: "/usr/bin",
  HOME: "/home/agent",
  ANTHROPIC_API_KEY: "sk-test",
  GITHUB_TOKEN: "gh-test",
  CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: "5000",
  CLOUDCLAUDE_AGENT_IDLE_MS: "",
  CLAUDE_CODE_EXECUTABLE: "/opt/fake",
  LOG_LEVEL: "debug",
  NODE_OPTIONS: "--inspect",
};

describe("agentSettings", () => {
  it("passes a person's Bedrock or Vertex settings to a switchboard, the Vertex key as a file path", () => {
    const vertex = agentSettings(
      {
        PATH: "/usr/bin",
        CLAUDE_CODE_USE_VERTEX: "1",
        ANTHROPIC_VERTEX_PROJECT_ID: "p1",
        CLOUD_ML_REGION: "us-east5",
        CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON: '{"type":"service_account"}',
      },
      "switchboard",
      "/h/claude",
      "/h/agent/google-credentials.json",
    );
    expect(vertex.childEnv).toMatchObject({
      CLAUDE_CODE_USE_VERTEX: "1",
      ANTHROPIC_VERTEX_PROJECT_ID: "p1",
      CLOUD_ML_REGION: "us-east5",
      GOOGLE_APPLICATION_CREDENTIALS: "/h/agent/google-credentials.json",
    });
    expect(vertex.childEnv.CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON).toBeUndefined();
    expect(vertex.googleCredentials).toEqual({
      file: "/h/agent/google-credentials.json",
      json: '{"type":"service_account"}',
    });
    const bedrock = agentSettings(
      { CLAUDE_CODE_USE_BEDROCK: "1", AWS_REGION: "us-west-2", AWS_BEARER_TOKEN_BEDROCK: "tok" },
      "switchboard",
      "/h/claude",
    );
    expect(bedrock.childEnv).toMatchObject({ CLAUDE_CODE_USE_BEDROCK: "1", AWS_REGION: "us-west-2" });
    expect(bedrock.googleCredentials).toBeUndefined();
  });

  it("parses the daemon's variables with defaults", () => {
    const settings = agentSettings(env, "project", "/h/claude");
    expect(settings).toMatchObject({
      permissionTimeoutMs: 5000,
      idleMs: 600_000,
      claudeExecutable: "/opt/fake",
      logLevel: "debug",
    });
  });

  it("gives a project's Claude Code the container environment minus the daemon's own settings", () => {
    const { childEnv } = agentSettings(env, "project", "/h/claude");
    expect(childEnv).toMatchObject({
      PATH: "/usr/bin",
      ANTHROPIC_API_KEY: "sk-test",
      GITHUB_TOKEN: "gh-test",
    });
    expect(childEnv.CLAUDE_CONFIG_DIR).toBe("/h/claude");
    for (const key of [
      "CLOUDCLAUDE_PERMISSION_TIMEOUT_MS",
      "CLAUDE_CODE_EXECUTABLE",
      "LOG_LEVEL",
      "NODE_OPTIONS",
    ]) {
      expect(childEnv[key]).toBeUndefined();
    }
  });

  it("gives a switchboard's Claude Code only what it needs", () => {
    const { childEnv } = agentSettings(env, "switchboard", "/h/claude");
    expect(childEnv.GITHUB_TOKEN).toBeUndefined();
    expect(childEnv).toMatchObject({ ANTHROPIC_API_KEY: "sk-test", CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1" });
  });

  it("rejects a malformed duration", () => {
    expect(() => agentSettings({ CLOUDCLAUDE_AGENT_IDLE_MS: "soon" }, "project", "/c")).toThrow();
  });
});

describe("switchboard tool catalog", () => {
  it("names tools the way Claude Code does and checks their input", () => {
    expect(qualifiedToolName("account_status")).toBe("mcp__cloudclaude__account_status");
    expect(SWITCHBOARD_TOOLS.map((t) => t.name)).toContain("account_status");
    expect(parseToolInput("account_status", {})).toMatchObject({ ok: true, name: "account_status" });
    expect(parseToolInput("format_disk", {})).toMatchObject({ ok: false });
  });
});
