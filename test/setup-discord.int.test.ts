import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";

describe("cloudclaude setup discord", () => {
  it("registers the /claude command with its prompt option through Discord's REST API", async () => {
    const calls: { method: string; url: string; auth: string; body: unknown }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += String(d);
      });
      req.on("end", () => {
        calls.push({
          method: req.method ?? "",
          url: req.url ?? "",
          auth: req.headers.authorization ?? "",
          body: JSON.parse(body || "null"),
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify([{ id: "1300000000000000001", name: "claude" }]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const { code, output } = await runCli(["setup", "discord"], {
        DISCORD_API_URL: `http://127.0.0.1:${port}/api`,
        DISCORD_BOT_TOKEN: "discord-test-bot-token-0123456789",
        DISCORD_APPLICATION_ID: "1100000000000000001",
      });
      expect(code, output).toBe(0);
      expect(output).toContain("registered /claude (1300000000000000001)");
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        method: "PUT",
        url: "/api/v10/applications/1100000000000000001/commands",
        auth: "Bot discord-test-bot-token-0123456789",
        body: [{ name: "claude", options: [{ name: "prompt", type: 3, required: true }] }],
      });
    } finally {
      server.close();
    }
  });

  it("says what is missing when the bot token or application id is not set", async () => {
    const { code, output } = await runCli(["setup", "discord"], {});
    expect(code).toBe(1);
    expect(output).toContain("setup discord needs DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID");
  });
});
