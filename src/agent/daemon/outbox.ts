import { lstat, mkdir, open, readdir, rename } from "node:fs/promises";
import { extname, join } from "node:path";
import { MAX_OUTBOX_FILE_BYTES, MAX_OUTBOX_FILES, type OutboxFile } from "../protocol.ts";
import { humanSize, safeFileName } from "./attachments.ts";

/** The folder of the workspace where Claude leaves files to send to the chat. */
export const OUTBOX_DIR = "outbox";
/** Where the files of an ended turn are moved: `outbox/sent/<turn id>/`, so no later turn sends them again. */
const SENT_DIR = "sent";

/**
 * At the end of a turn: every regular file at the top of `<workspace>/outbox/` (new since the last turn:
 * earlier ones were moved away) is moved to `outbox/sent/<turn id>/` under a safe name and reported as
 * metadata. Files over `MAX_OUTBOX_FILE_BYTES`, and those past the first `MAX_OUTBOX_FILES`, are moved too
 * but carry `refused`, so they are named in the chat rather than sent. Folders, links and hidden files
 * (names starting with a dot, such as a file still being written under a temporary name) stay where they
 * are. Never throws: a turn's answer does not depend on its files.
 */
export async function collectOutbox(workspace: string, turnId: string): Promise<OutboxFile[]> {
  const outbox = join(workspace, OUTBOX_DIR);
  let entries: string[];
  try {
    entries = (await readdir(outbox)).filter((name) => !name.startsWith(".") && name !== SENT_DIR).sort();
  } catch {
    return [];
  }
  const dir = sentDir(workspace, turnId);
  const taken = new Set<string>();
  const files: OutboxFile[] = [];
  for (const entry of entries) {
    try {
      const stat = await lstat(join(outbox, entry));
      if (!stat.isFile()) continue;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const name = unique(safeFileName(entry, `file-${files.length + 1}`), taken);
      await rename(join(outbox, entry), join(dir, name));
      const refused =
        stat.size > MAX_OUTBOX_FILE_BYTES
          ? `larger than the ${humanSize(MAX_OUTBOX_FILE_BYTES)} limit`
          : files.filter((f) => f.refused === undefined).length >= MAX_OUTBOX_FILES
            ? `more than ${MAX_OUTBOX_FILES} files in one turn`
            : undefined;
      files.push({
        name,
        size: stat.size,
        mediaType: mediaTypeOf(name),
        ...(refused !== undefined && { refused }),
      });
    } catch {
      // Gone or unreadable meanwhile: not sent.
    }
  }
  return files;
}

/**
 * The bytes of a file an ended turn reported (`read_file`): only a safe name inside that turn's folder,
 * only a regular file (no link), at most `MAX_OUTBOX_FILE_BYTES`.
 */
export async function readOutboxFile(
  workspace: string,
  turnId: string,
  name: string,
): Promise<{ data: Buffer } | { error: string }> {
  if (safeFileName(name, "") !== name) return { error: "not a file name" };
  const path = join(sentDir(workspace, turnId), name);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const stat = await lstat(path);
    if (!stat.isFile()) return { error: "no such file" };
    if (stat.size > MAX_OUTBOX_FILE_BYTES) return { error: "too large" };
    handle = await open(path, "r");
    const data = await handle.readFile();
    if (data.length > MAX_OUTBOX_FILE_BYTES) return { error: "too large" };
    return { data };
  } catch {
    return { error: "no such file" };
  } finally {
    await handle?.close();
  }
}

function sentDir(workspace: string, turnId: string): string {
  return join(workspace, OUTBOX_DIR, SENT_DIR, safeFileName(turnId, "turn"));
}

function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem} (${n})${ext}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}

const MEDIA_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".json": "application/json",
  ".html": "text/html",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
};

/** The media type by extension; `application/octet-stream` when unknown. */
export function mediaTypeOf(name: string): string {
  return MEDIA_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream";
}
