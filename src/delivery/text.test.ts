import { describe, expect, it } from "vitest";
import { markdownToMrkdwn, markdownToPlain, sanitize, splitText } from "./text.ts";

const paragraph = (n: number, words = 30) => Array.from({ length: words }, (_, i) => `p${n}w${i}`).join(" ");

describe("splitText", () => {
  it("returns short text whole and nothing for blank text", () => {
    expect(splitText("hello", 100)).toEqual(["hello"]);
    expect(splitText("  \n\n ", 100)).toEqual([]);
  });

  it("keeps every chunk within the limit and loses no word", () => {
    const text = Array.from({ length: 40 }, (_, i) => paragraph(i)).join("\n\n");
    const chunks = splitText(text, 500);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(500);
    expect(chunks.join(" ").split(/\s+/)).toEqual(text.split(/\s+/));
  });

  it("prefers paragraph breaks, then line breaks", () => {
    const text = `${"a".repeat(300)}\n\n${"b".repeat(300)}\n${"c".repeat(300)}`;
    expect(splitText(text, 650)).toEqual(["a".repeat(300), `${"b".repeat(300)}\n${"c".repeat(300)}`]);
    expect(splitText(`${"b".repeat(300)}\n${"c".repeat(300)}`, 500)).toEqual([
      "b".repeat(300),
      "c".repeat(300),
    ]);
  });

  it("cuts an unbroken run hard, never inside a surrogate pair", () => {
    const text = "😀".repeat(30); // 60 UTF-16 units
    const chunks = splitText(text, 25);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(25);
      expect(c).not.toMatch(/[\ud800-\udbff]$/);
    }
    expect(chunks.join("")).toBe(text);
  });

  it("closes and reopens a code fence cut in two", () => {
    const code = Array.from({ length: 60 }, (_, i) => `const v${i} = ${i};`).join("\n");
    const text = `Intro\n\n\`\`\`ts\n${code}\n\`\`\`\n\nOutro`;
    const chunks = splitText(text, 400, { fences: true });
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(400);
      expect((c.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(chunks[1]?.startsWith("```ts\n")).toBe(true);
    const body = chunks.join("\n").replace(/\n```\n```ts/g, "");
    for (let i = 0; i < 60; i++) expect(body).toContain(`const v${i} = ${i};`);
  });

  it("is deterministic", () => {
    const text = Array.from({ length: 50 }, (_, i) => paragraph(i, 17)).join("\n");
    expect(splitText(text, 333)).toEqual(splitText(text, 333));
  });
});

describe("markdownToPlain", () => {
  it("removes markers and spells out links", () => {
    const md = [
      "# Title",
      "Some **bold**, *italic*, _under_, ~~gone~~ and `code`.",
      "- item [docs](https://example.com/a_b)",
      "> quoted",
      "```js",
      "const a = b * c * d;",
      "```",
      "snake_case_name and 2 * 3 * 4 stay.",
    ].join("\n");
    expect(markdownToPlain(md)).toBe(
      [
        "Title",
        "Some bold, italic, under, gone and code.",
        "• item docs (https://example.com/a_b)",
        "quoted",
        "const a = b * c * d;",
        "snake_case_name and 2 * 3 * 4 stay.",
      ].join("\n"),
    );
  });
});

describe("markdownToMrkdwn", () => {
  it("converts the basics and escapes what would form a mention", () => {
    expect(markdownToMrkdwn("## Plan\n**bold** and *it* ~~no~~ [site](https://x.io/?a=1&b=2)")).toBe(
      "*Plan*\n*bold* and _it_ ~no~ <https://x.io/?a=1&b=2|site>",
    );
    expect(markdownToMrkdwn("a < b && <!channel> `<tag>`")).toBe(
      "a &lt; b &amp;&amp; &lt;!channel&gt; `&lt;tag&gt;`",
    );
    expect(markdownToMrkdwn("```python\nif a < b: pass\n```")).toBe("```\nif a &lt; b: pass\n```");
    expect(markdownToMrkdwn("- one\n- two")).toBe("• one\n• two");
  });
});

describe("sanitize", () => {
  it("drops control characters but keeps tabs and newlines", () => {
    expect(sanitize("a\u0000b\u001ec\td\r\ne")).toBe("abc\td\ne");
  });
});
