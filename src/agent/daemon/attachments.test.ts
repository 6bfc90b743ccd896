import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { placeAttachments, safeFileName } from "./attachments.ts";

describe("safeFileName", () => {
  it.each([
    ["photo.jpg", "photo.jpg"],
    ["../../etc/passwd", "passwd"],
    ["..\\..\\windows\\win.ini", "win.ini"],
    [".bashrc", "bashrc"],
    ["...", "fallback"],
    ["..", "fallback"],
    ["", "fallback"],
    ["a\u0000b\nc.txt", "a_b_c.txt"],
    ["報告 2026.pdf", "報告 2026.pdf"],
    ["$(rm -rf ~).sh", "_(rm -rf _)", "sh"],
  ])("%j → %j", (raw, expected, ext?: string) => {
    const name = safeFileName(raw, "fallback");
    if (ext) expect(name).toBe(`${expected}.${ext}`);
    else expect(name).toBe(expected);
    expect(name).not.toMatch(/[/\\]|^\./);
  });

  it("keeps long names under 120 bytes, extension included", () => {
    const name = safeFileName(`${"å".repeat(200)}.png`, "x");
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(120);
    expect(name.endsWith(".png")).toBe(true);
  });
});

describe("placeAttachments", () => {
  let workspace: string;
  beforeEach(async () => {
    workspace = await mkdtemp(path.join(tmpdir(), "cc-attach-"));
  });
  afterEach(() => rm(workspace, { recursive: true, force: true }));

  const file = (name: string, text: string) => ({
    name,
    mediaType: "text/plain",
    dataBase64: Buffer.from(text).toString("base64"),
  });

  it("writes each file under attachments/<turn>/, names made unique, and says where; a rerun is the same", async () => {
    const files = [file("notes.txt", "one"), file("notes.txt", "two"), file("../../escape.txt", "three")];
    const lines = await placeAttachments(workspace, "t42", files);
    expect(lines).toEqual([
      "[attached: attachments/t42/notes.txt (text/plain, 3 B)]",
      "[attached: attachments/t42/notes (2).txt (text/plain, 3 B)]",
      "[attached: attachments/t42/escape.txt (text/plain, 5 B)]",
    ]);
    const dir = path.join(workspace, "attachments", "t42");
    expect((await readdir(dir)).sort()).toEqual(["escape.txt", "notes (2).txt", "notes.txt"]);
    expect(await readFile(path.join(dir, "notes (2).txt"), "utf8")).toBe("two");
    // The same turn again (attempt 2 after a daemon crash): the same names, the same bytes, nothing more.
    expect(await placeAttachments(workspace, "t42", files)).toEqual(lines);
    expect((await readdir(dir)).sort()).toEqual(["escape.txt", "notes (2).txt", "notes.txt"]);
  });
});
