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
