import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * The fake's verbs that look at the working tree (its cwd): what a test asks to see what an agent's
 * volume or image holds. Paths are relative to the cwd (an absolute one is taken as it is).
 */

/** At most this many characters of a file's text go into the answer. */
export const CAT_MAX_CHARS = 4000;

/** `cat <path>`: "cat <path>:\n<contents>" (the first CAT_MAX_CHARS characters), or "missing <path>". */
export function catReport(cwd: string, path: string): string {
  try {
    return `cat ${path}:\n${readFileSync(resolve(cwd, path), "utf8").slice(0, CAT_MAX_CHARS)}`;
  } catch {
    return `missing ${path}`;
  }
}

/** `ls [dir]`: "ls <dir>: <entry names, sorted, dotfiles included>", or "missing <dir>". */
export function lsReport(cwd: string, dir = "."): string {
  try {
    const names = readdirSync(resolve(cwd, dir)).sort();
    return `ls ${dir}: ${names.join(" ")}`.trimEnd();
  } catch {
    return `missing ${dir}`;
  }
}
