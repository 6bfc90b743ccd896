import { sanitize, splitText } from "../text.ts";

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
    const fence = /^\s*```\s*([\w+#.-]{0,20})/.exec(line);
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
 * on its own so every chunk is well-formed. Telegram counts the 4,096 after entity parsing, and the
 * visible text of a converted piece is never longer than the piece.
 */
export function telegramChunks(markdown: string, limit: number): string[] {
  return splitText(markdown, limit, { fences: true })
    .map(markdownToTelegramHtml)
    .filter((c) => c.length > 0);
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

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function preBlock(lang: string, lines: string[]): string {
  const body = escapeHtml(lines.join("\n"));
  return lang ? `<pre><code class="language-${lang}">${body}</code></pre>` : `<pre>${body}</pre>`;
}

function blockLine(line: string): string {
  const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
  if (heading) return `<b>${inline(heading[1] ?? "")}</b>`;
  if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) return "──────────";
  const task = /^(\s*)[-*+]\s+\[( |x|X)\]\s+(.*)$/.exec(line);
  if (task) return `${task[1]}${task[2] === " " ? "☐" : "☑"} ${inline(task[3] ?? "")}`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) return `${bullet[1]}• ${inline(bullet[2] ?? "")}`;
  return inline(line);
}

const INLINE_CODE = /(`+)([^`\n]|[^`\n][^\n]*?[^`\n])\1(?!`)/g;
const LINK = /!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const AUTOLINK = /<((?:https?|mailto):[^>\s]+)>/g;
const BOLD = /(\*\*|__)(?=\S)([^\n]*?\S)\1/g;
const ITALIC_STAR = /(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g;
const ITALIC_UNDERSCORE = /(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])/g;
const STRIKE = /~~(?=\S)([^\n]*?\S)~~/g;
const PLACEHOLDER = /\ue000(\d+)\ue000/g;

/** One line of prose: code spans and links kept aside, the rest escaped, then emphasis converted. */
function inline(line: string): string {
  const kept: string[] = [];
  const keep = (html: string): string => `\ue000${kept.push(html) - 1}\ue000`;
  const protectedLine = line
    .replace(INLINE_CODE, (_, _ticks: string, code: string) =>
      keep(`<code>${escapeHtml(code.trim())}</code>`),
    )
    .replace(LINK, (_, label: string, url: string) =>
      safeUrl(url)
        ? keep(`<a href="${escapeHtml(url).replace(/"/g, "&quot;")}">${escapeHtml(label || url)}</a>`)
        : keep(escapeHtml(label ? `${label} (${url})` : url)),
    )
    .replace(AUTOLINK, (_, url: string) => keep(`<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`));
  const html = escapeHtml(protectedLine)
    .replace(BOLD, "<b>$2</b>")
    .replace(STRIKE, "<s>$1</s>")
    .replace(ITALIC_STAR, "$1<i>$2</i>")
    .replace(ITALIC_UNDERSCORE, "$1<i>$2</i>");
  return html.replace(PLACEHOLDER, (_, i: string) => kept[Number(i)] ?? "");
}

function safeUrl(url: string): boolean {
  return /^(https?:|mailto:|tg:)/i.test(url);
}
