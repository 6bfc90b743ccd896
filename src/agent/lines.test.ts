import { describe, expect, it } from "vitest";
import { LineSplitter } from "./lines.ts";

function split(chunks: string[], maxBytes = 1024) {
  const lines: string[] = [];
  const oversized: number[] = [];
  const splitter = new LineSplitter({
    maxBytes,
    onLine: (l) => lines.push(l),
    onOversized: (n) => oversized.push(n),
  });
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  return { lines, oversized };
}

describe("LineSplitter", () => {
  it("reassembles lines across chunks and skips empty ones", () => {
    expect(split(['{"a":', '1}\n\n{"b"', ":2}\n{", '"c":3}']).lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const bytes = Buffer.from("說中文\n");
    const lines: string[] = [];
    const splitter = new LineSplitter({ maxBytes: 100, onLine: (l) => lines.push(l), onOversized: () => {} });
    splitter.push(bytes.subarray(0, 2));
    splitter.push(bytes.subarray(2));
    expect(lines).toEqual(["說中文"]);
  });

  it("drops an oversized line whole and carries on with the next", () => {
    const { lines, oversized } = split(["short\n", "x".repeat(30), "y".repeat(30), "\nnext\n"], 40);
    expect(lines).toEqual(["short", "next"]);
    expect(oversized).toEqual([60]);
  });
});
