import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectOutbox, readOutboxFile } from "./outbox.ts";

describe("the agent's outbox", () => {
  let workspace: string;
  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), "cc-outbox-"));
  });
  afterEach(() => rm(workspace, { recursive: true, force: true }));

  it("moves a turn's new files to outbox/sent/<turn>/ and reports them once, metadata only", async () => {
    await mkdir(join(workspace, "outbox", "folder"), { recursive: true });
    await writeFile(join(workspace, "outbox", "chart.png"), Buffer.alloc(300, 1));
    await writeFile(join(workspace, "outbox", "notes $1.txt"), "hello");
    await writeFile(join(workspace, "outbox", ".partial"), "being written");
    await symlink("/etc/passwd", join(workspace, "outbox", "link.txt"));
    expect(await collectOutbox(workspace, "t1")).toEqual([
      { name: "chart.png", size: 300, mediaType: "image/png" },
      { name: "notes _1.txt", size: 5, mediaType: "text/plain" },
    ]);
    expect((await readdir(join(workspace, "outbox"))).sort()).toEqual([
      ".partial",
      "folder",
      "link.txt",
      "sent",
    ]);
    // The next turn finds nothing new.
    expect(await collectOutbox(workspace, "t2")).toEqual([]);
    const read = await readOutboxFile(workspace, "t1", "notes _1.txt");
    expect("data" in read && read.data.toString()).toBe("hello");
  });

  it("reads only a safe name of that turn's folder", async () => {
    await mkdir(join(workspace, "outbox"), { recursive: true });
    await writeFile(join(workspace, "outbox", "a.txt"), "a");
    await collectOutbox(workspace, "t1");
    expect(await readOutboxFile(workspace, "t1", "../../secret")).toEqual({ error: "not a file name" });
    expect(await readOutboxFile(workspace, "t2", "a.txt")).toEqual({ error: "no such file" });
    expect(await readOutboxFile(workspace, "t1", "missing.txt")).toEqual({ error: "no such file" });
  });

  it("refuses files past the count limit, naming them", async () => {
    await mkdir(join(workspace, "outbox"), { recursive: true });
    for (let i = 0; i < 12; i++)
      await writeFile(join(workspace, "outbox", `f${String(i).padStart(2, "0")}.txt`), "x");
    const files = await collectOutbox(workspace, "t1");
    expect(files).toHaveLength(12);
    expect(files.filter((f) => f.refused === undefined)).toHaveLength(10);
    expect(files.at(-1)?.refused).toMatch(/more than 10 files/);
  });
});
