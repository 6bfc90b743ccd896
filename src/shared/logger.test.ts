import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

describe("logger", () => {
  it("writes JSON lines with secrets redacted", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: "info", destination });
    logger.info(
      { token: "t0k3n", headers: { authorization: "Bearer abc", "x-line-signature": "sig" }, user: "mei" },
      "hello",
    );
    await new Promise((r) => setTimeout(r, 20));
    const entry = JSON.parse(lines[0] ?? "{}");
    expect(entry).toMatchObject({ msg: "hello", user: "mei", token: "[redacted]" });
    expect(entry.headers).toEqual({ authorization: "[redacted]", "x-line-signature": "[redacted]" });
    expect(lines.join("")).not.toMatch(/t0k3n|Bearer abc/);
  });
});

describe("logger and known secret values", () => {
  it("replaces a known secret value wherever it appears in a line", async () => {
    const { knownSecrets } = await import("../secrets/redact.ts");
    knownSecrets.add("very-secret-value-42");
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: "info", destination });
    logger.error({ err: new Error("call failed with very-secret-value-42") }, "boom very-secret-value-42");
    logger.info("pasted sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA into a chat");
    await new Promise((r) => setTimeout(r, 20));
    const all = lines.join("");
    expect(all).not.toContain("very-secret-value-42");
    expect(all).not.toContain("sk-ant-api03-AAAA");
    expect(all).toContain("[redacted]");
  });
});
