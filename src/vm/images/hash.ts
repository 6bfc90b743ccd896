import { createHash, type Hash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** The 12 hex digits of a tag. */
export function shortHash(parts: readonly string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest("hex").slice(0, 12);
}

/**
 * A digest of files and directories under `root` (paths relative to it): names, the executable bit and
 * contents, in a stable order. Modification times are left out on purpose, so a fresh clone of the same
 * commit gets the same tag.
 */
export function treeDigest(root: string, paths: readonly string[]): string {
  const hash = createHash("sha256");
  for (const path of [...paths].sort()) walk(hash, root, path);
  return hash.digest("hex");
}

function walk(hash: Hash, root: string, path: string): void {
  const full = join(root, path);
  const stat = lstatSync(full);
  if (stat.isDirectory()) {
    hash.update(`d ${path}\n`);
    for (const name of readdirSync(full).sort()) walk(hash, root, join(path, name));
  } else if (stat.isSymbolicLink()) {
    hash.update(`l ${path} ${readlinkSync(full)}\n`);
  } else if (stat.isFile()) {
    const content = readFileSync(full);
    hash.update(`f ${path} ${stat.mode & 0o111 ? "x" : "-"} ${content.length}\n`);
    hash.update(content);
  }
}
