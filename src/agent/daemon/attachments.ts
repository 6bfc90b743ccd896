import { mkdir, rename, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { TurnAttachment } from "../protocol.ts";

/** The folder of the workspace that receives the files people send, one subfolder per turn. */
export const ATTACHMENTS_DIR = "attachments";

const MAX_NAME_BYTES = 120;

/**
 * Writes a turn's files under `<workspace>/attachments/<turn id>/` and returns one line per file telling
 * Claude where it is, e.g. `[attached: attachments/t42/photo.jpg (image/jpeg, 120 KB)]` (paths relative to
 * the workspace, Claude's cwd). The same frame always gives the same names, so a rerun of the turn
 * (attempt 2) rewrites the same files with the same bytes. Each file is written whole, then renamed into
 * place: Claude never sees half a file.
 */
export async function placeAttachments(
  workspace: string,
  turnId: string,
  attachments: readonly TurnAttachment[],
): Promise<string[]> {
  if (attachments.length === 0) return [];
  const folder = safeFileName(turnId, "turn");
  const dir = join(workspace, ATTACHMENTS_DIR, folder);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const taken = new Set<string>();
  const lines: string[] = [];
  for (const [i, file] of attachments.entries()) {
    const name = unique(safeFileName(file.name, `attachment-${i + 1}`), taken);
    const bytes = Buffer.from(file.dataBase64, "base64");
    const target = join(dir, name);
    const temp = join(dir, `.${name}.${process.pid}.part`);
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, target);
    lines.push(
      `[attached: ${ATTACHMENTS_DIR}/${folder}/${name} (${file.mediaType}, ${humanSize(bytes.length)})]`,
    );
  }
  return lines;
}

/**
 * A file name that stays where it is put: the last path segment only, no control characters, nothing
 * but letters, digits and `._-+()@,=` and spaces (others become `_`), no leading dot (no hidden files, no
 * `.` or `..`), at most 120 bytes (the extension kept). Empty after all that: `fallback`.
 */
export function safeFileName(raw: string, fallback: string): string {
  const last = raw.split(/[/\\]/).pop() ?? "";
  let name = last
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}._\-+()@,= ]/gu, "_")
    .replace(/\s+/g, " ")
    .replace(/^[.\s]+/, "")
    .replace(/[.\s]+$/, "");
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const ext = extname(name).slice(0, 16);
    let stem = name.slice(0, name.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = Array.from(stem).slice(0, -1).join("");
    name = stem + ext;
  }
  return name === "" || /^_+$/.test(name) ? fallback : name;
}

function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem} (${n})${ext}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
