/**
 * Text shaping for the senders: splitting a reply into chunks a platform accepts, and converting the
 * agent's Markdown into each platform's format. Lengths are JavaScript string lengths (UTF-16 code units),
 * which is how LINE and Telegram count and never less than what Discord or Slack count.
 */

export interface SplitOptions {
  /**
   * Keep Markdown code fences intact across chunks: a chunk cut inside a ``` block is closed with ``` and
   * the next chunk reopens it (with its language). For Markdown-rendering platforms (Discord, Slack).
   */
  readonly fences?: boolean;
}

const CLOSE_FENCE = "\n```";
/** Cut points earlier than this share of the limit make chunks too small; look for a worse kind of cut. */
const MIN_FILL = 0.3;

/**
 * Splits `text` into chunks of at most `limit` units, preferring paragraph breaks, then line breaks, then
 * spaces, and cutting hard (never inside a surrogate pair) only in an unbroken run. Chunks are trimmed at
 * their ends; whitespace-only input yields no chunk. Deterministic: the same input gives the same chunks,
 * which a resume after a crash relies on.
 */
export function splitText(text: string, limit: number, options: SplitOptions = {}): string[] {
  if (limit < 16) throw new RangeError(`chunk limit ${limit} is too small`);
  const chunks: string[] = [];
  let rest = text.replace(/^\s*\n/, "").trimEnd();
  while (rest.length > 0) {
    if (rest.length <= limit) {
      chunks.push(rest);
      break;
    }
    const budget = options.fences ? limit - CLOSE_FENCE.length : limit;
    const cut = findCut(rest, budget);
    let chunk = rest.slice(0, cut).trimEnd();
    rest = rest.slice(cut).replace(/^[ \t]*\n+/, "");
    if (rest.startsWith(" ")) rest = rest.slice(1);
    if (options.fences) {
      const open = openFenceAtEnd(chunk);
      if (open !== undefined) {
        chunk = `${chunk}${CLOSE_FENCE}`;
        rest = `${open}\n${rest}`;
      }
    }
    if (chunk.trim().length > 0) chunks.push(chunk);
    rest = rest.trimEnd();
  }
  return chunks;
}

function findCut(text: string, budget: number): number {
  const window = text.slice(0, budget + 1);
  const min = Math.floor(budget * MIN_FILL);
  for (const separator of ["\n\n", "\n"]) {
    const at = window.lastIndexOf(separator, budget - separator.length);
    if (at >= min) return at + separator.length;
  }
  const space = Math.max(window.lastIndexOf(" ", budget), window.lastIndexOf("\t", budget));
  if (space >= min) return space;
  // No good break: cut hard, but not between the halves of a surrogate pair.
  const code = text.charCodeAt(budget - 1);
  return code >= 0xd800 && code <= 0xdbff ? budget - 1 : budget;
}

/** The opening fence line (e.g. "```ts") when `chunk` ends inside a code block, else undefined. */
function openFenceAtEnd(chunk: string): string | undefined {
  let open: string | undefined;
  for (const line of chunk.split("\n")) {
    const match = /^\s*```\s*([\w+#.-]{0,20})/.exec(line);
    if (!match) continue;
    open = open === undefined ? `\`\`\`${match[1] ?? ""}` : undefined;
  }
  return open;
}

/**
 * Drops characters that have no place in a chat message (C0 controls but tab and newline, DEL) and the two
 * private-use characters the converters use as placeholders.
 */
export function sanitize(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
  return text.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f\ue000\ue001]/g, "");
}

/** Placeholder delimiters (private-use characters, removed from the input by `sanitize`). */
const PLACEHOLDER = /\ue000(\d+)\ue000/g;

/**
 * Splits Markdown at `limit`, converts each piece with `convert`, and splits again (smaller) any piece whose
 * converted form `measure`s longer than `limit` (escaping and markers can make text grow: `&` → `&amp;`,
 * `---` → a rule). Each chunk is converted on its own, so every chunk is well-formed. Deterministic.
 */
export function splitConverted(
  markdown: string,
  limit: number,
  convert: (piece: string) => string,
  measure: (converted: string) => number = (c) => c.length,
  options: SplitOptions = {},
  budget = limit,
): string[] {
  const out: string[] = [];
  for (const piece of splitText(markdown, budget, options)) {
    const converted = convert(piece);
    const size = measure(converted);
    if (size <= limit) {
      if (converted.length > 0) out.push(converted);
      continue;
    }
    // Split this piece smaller, in proportion to its growth and with a margin.
    const smaller = Math.min(piece.length - 1, Math.floor((piece.length * limit) / size) - 8);
    if (smaller < 16) throw new RangeError(`cannot fit a chunk into ${limit} after conversion`);
    out.push(...splitConverted(piece, limit, convert, measure, options, smaller));
  }
  return out;
}

/** `&`, `<` and `>` as entities (Telegram HTML and Slack mrkdwn escape the same three). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Swaps protected spans for placeholders while `transform` runs, then puts them back. */
export function withProtected(
  line: string,
  protect: (line: string, keep: (value: string) => string) => string,
  transform: (line: string) => string,
): string {
  const kept: string[] = [];
  const keep = (value: string): string => `\ue000${kept.push(value) - 1}\ue000`;
  const out = transform(protect(line, keep));
  return out.replace(PLACEHOLDER, (_, i: string) => kept[Number(i)] ?? "");
}

/** Applies `line` to each line outside code fences and `code` to each line inside (fence lines via `fence`). */
function mapLines(
  text: string,
  handlers: { line: (l: string) => string; code: (l: string) => string; fence: (l: string) => string | null },
): string {
  const out: string[] = [];
  let inCode = false;
  for (const l of sanitize(text).split("\n")) {
    if (/^\s*```/.test(l)) {
      inCode = !inCode;
      const fence = handlers.fence(l);
      if (fence !== null) out.push(fence);
      continue;
    }
    out.push(inCode ? handlers.code(l) : handlers.line(l));
  }
  return out.join("\n");
}

/** The Markdown the converters understand (shared by every platform's converter). */
export const BOLD = /(\*\*|__)(?=\S)([^\n]*?\S)\1/g;
export const ITALIC_STAR = /(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g;
export const ITALIC_UNDERSCORE = /(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])/g;
export const STRIKE = /~~(?=\S)([^\n]*?\S)~~/g;
export const LINK = /!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
export const AUTOLINK = /<((?:https?|mailto):[^>\s]+)>/g;
export const INLINE_CODE = /(`+)([^`\n]|[^`\n][^\n]*?[^`\n])\1(?!`)/g;
export const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
export const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
export const FENCE = /^\s*```\s*([\w+#.-]{0,20})/;

/** Markdown → plain text (LINE, Telegram without parse mode): markers removed, links spelled out. */
export function markdownToPlain(markdown: string): string {
  return mapLines(markdown, {
    fence: () => null,
    code: (l) => l,
    line: (l) =>
      withProtected(
        l,
        (s, keep) => s.replace(INLINE_CODE, (_, _ticks: string, code: string) => keep(code.trim())),
        (s) =>
          s
            .replace(HEADING, "$1")
            .replace(/^(\s*)>\s?/, "$1")
            .replace(RULE, "───")
            .replace(
              /^(\s*)[-*+]\s+\[( |x|X)\]\s+/,
              (_, i: string, x: string) => `${i}${x === " " ? "☐" : "☑"} `,
            )
            .replace(/^(\s*)[-*+]\s+/, "$1• ")
            .replace(LINK, (_, label: string, url: string) =>
              label && label !== url ? `${label} (${url})` : url,
            )
            .replace(AUTOLINK, "$1")
            .replace(BOLD, "$2")
            .replace(STRIKE, "$1")
            .replace(ITALIC_STAR, "$1$2")
            .replace(ITALIC_UNDERSCORE, "$1$2"),
      ),
  }).trim();
}

const escapeSlack = escapeHtml;

/**
 * Markdown → Slack mrkdwn: bold, italic, strike, links, headings and bullets converted; code kept; `&`, `<`
 * and `>` escaped everywhere else, so agent output can never form a mention such as `<!channel>`.
 */
export function markdownToMrkdwn(markdown: string): string {
  return mapLines(markdown, {
    fence: () => "```",
    code: escapeSlack,
    line: (l) =>
      withProtected(
        l,
        (s, keep) =>
          s
            .replace(INLINE_CODE, (_, _ticks: string, code: string) =>
              keep(`\`${escapeSlack(code.trim())}\``),
            )
            .replace(LINK, (_, label: string, url: string) =>
              keep(
                label && label !== url ? `<${encodeURI(url)}|${escapeSlack(label)}>` : `<${encodeURI(url)}>`,
              ),
            )
            .replace(AUTOLINK, (_, url: string) => keep(`<${encodeURI(url)}>`)),
        (s) => {
          const bold: string[] = [];
          const keepBold = (inner: string): string => `\ue001${bold.push(inner) - 1}\ue001`;
          return escapeSlack(s)
            .replace(HEADING, (_, h: string) => keepBold(h))
            .replace(/^(\s*)&gt;\s?/, "$1&gt; ")
            .replace(/^(\s*)[-*+]\s+/, "$1• ")
            .replace(BOLD, (_, _m: string, inner: string) => keepBold(inner))
            .replace(STRIKE, "~$1~")
            .replace(ITALIC_STAR, "$1_$2_")
            .replace(/\ue001(\d+)\ue001/g, (_, i: string) => `*${bold[Number(i)] ?? ""}*`);
        },
      ),
  }).trim();
}
