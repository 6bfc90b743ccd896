import {
  AUTOLINK,
  BOLD,
  escapeHtml,
  FENCE,
  HEADING,
  INLINE_CODE,
  ITALIC_STAR,
  ITALIC_UNDERSCORE,
  LINK,
  RULE,
  STRIKE,
  sanitize,
  splitConverted,
  withProtected,
} from "../text.ts";

export { escapeHtml };

/**
 * Markdown → Telegram HTML (`parse_mode: "HTML"`): the agent's text escaped (`&`, `<`, `>`) everywhere,
 * then bold, italic, strike, inline code, links, headings, bullets and quotes as the tags Telegram knows
 * (`<b> <i> <s> <code> <pre> <a> <blockquote>`), code blocks as `<pre><code class="language-…">`.
 * Unbalanced markers stay as text, so the result always parses.
 */
export function markdownToTelegramHtml(markdown: string): string {
  const out: string[] = [];
  let code: { lang: string; lines: string[] } | undefined;
  let quote: string[] = [];
  const flushQuote = () => {
    if (quote.length > 0) out.push(`<blockquote>${quote.join("\n")}</blockquote>`);
    quote = [];
  };
  for (const line of sanitize(markdown).split("\n")) {
    const fence = FENCE.exec(line);
    if (fence) {
      if (code) {
        out.push(preBlock(code.lang, code.lines));
        code = undefined;
      } else {
        flushQuote();
        code = { lang: fence[1] ?? "", lines: [] };
      }
      continue;
    }
    if (code) {
      code.lines.push(line);
      continue;
    }
    const quoted = /^\s{0,3}>\s?(.*)$/.exec(line);
    if (quoted) {
      quote.push(inline(quoted[1] ?? ""));
      continue;
    }
    flushQuote();
    out.push(blockLine(line));
  }
  flushQuote();
  if (code) out.push(preBlock(code.lang, code.lines)); // an unclosed block: close it
  return out.join("\n").trim();
}

/**
 * Telegram HTML chunks: the Markdown split first (code fences closed and reopened), each piece converted
 * on its own so every chunk is well-formed. Telegram counts the 4,096 after entity parsing; a piece whose
 * visible text came out longer (a conversion that adds characters) is split again.
 */
export function telegramChunks(markdown: string, limit: number): string[] {
  return splitConverted(markdown, limit, markdownToTelegramHtml, (html) => visibleTelegramText(html).length, {
    fences: true,
  });
}

/** The text Telegram shows for an HTML message: tags removed, entities decoded (for length checks). */
export function visibleTelegramText(html: string): string {
  return html
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

function preBlock(lang: string, lines: string[]): string {
  const body = escapeHtml(lines.join("\n"));
  return lang ? `<pre><code class="language-${lang}">${body}</code></pre>` : `<pre>${body}</pre>`;
}

function blockLine(line: string): string {
  const heading = HEADING.exec(line);
  if (heading) return `<b>${inline(heading[1] ?? "")}</b>`;
  // As long as the `---` it replaces: a conversion never makes a chunk longer than it was measured.
  if (RULE.test(line)) return "───";
  const task = /^(\s*)[-*+]\s+\[( |x|X)\]\s+(.*)$/.exec(line);
  if (task) return `${task[1]}${task[2] === " " ? "☐" : "☑"} ${inline(task[3] ?? "")}`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) return `${bullet[1]}• ${inline(bullet[2] ?? "")}`;
  return inline(line);
}

/** One line of prose: code spans and links kept aside, the rest escaped, then emphasis converted. */
function inline(line: string): string {
  return withProtected(line, protect, (s) =>
    escapeHtml(s)
      .replace(BOLD, "<b>$2</b>")
      .replace(STRIKE, "<s>$1</s>")
      .replace(ITALIC_STAR, "$1<i>$2</i>")
      .replace(ITALIC_UNDERSCORE, "$1<i>$2</i>"),
  );
}

function protect(line: string, keep: (html: string) => string): string {
  return line
    .replace(INLINE_CODE, (_, _ticks: string, code: string) =>
      keep(`<code>${escapeHtml(code.trim())}</code>`),
    )
    .replace(LINK, (_, label: string, url: string) =>
      safeUrl(url)
        ? keep(`<a href="${escapeHtml(url).replace(/"/g, "&quot;")}">${escapeHtml(label || url)}</a>`)
        : keep(escapeHtml(label ? `${label} (${url})` : url)),
    )
    .replace(AUTOLINK, (_, url: string) => keep(`<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`));
}

function safeUrl(url: string): boolean {
  return /^(https?:|mailto:|tg:)/i.test(url);
}
