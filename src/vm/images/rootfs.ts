import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  symlinkSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * A minimal root filesystem assembled from the host's own files: the programs an agent needs, the shared
 * libraries they load (found with `ldd`), and the symbolic links on the way (Debian's merged /usr makes
 * /lib, /lib64 and /bin links into /usr, and ELF interpreters are named through them).
 *
 * Every entry is recorded at its canonical path (no symbolic link among its parent directories), and
 * links are recreated as links with their original text. So staging never writes through a link: an
 * absolute link such as /etc/ssl/certs/x.pem -> /usr/share/ca-certificates/… would otherwise point out of
 * the staging directory into the host.
 */
export type Entry =
  | { readonly kind: "dir"; readonly mode: number }
  | { readonly kind: "file"; readonly source: string; readonly mode: number; readonly fingerprint: string }
  | { readonly kind: "link"; readonly target: string };

/** The programs of the base image (host paths). Shell scripts of git-core that need perl will not work. */
export const HOST_PROGRAMS = [
  "/bin/sh",
  "/usr/bin/env",
  "/usr/bin/bash",
  "/usr/bin/git",
  "/usr/bin/grep",
  "/usr/bin/sed",
  ...["ls", "cat", "mkdir", "rm", "cp", "mv", "sleep", "id", "ln", "chmod", "touch", "head", "tail"].map(
    (name) => `/usr/bin/${name}`,
  ),
  ...["wc", "sort", "uname", "true", "false", "pwd", "date", "basename", "dirname"].map(
    (name) => `/usr/bin/${name}`,
  ),
];
/** Directories copied whole (with what their links point at). */
export const HOST_TREES = ["/usr/lib/git-core", "/usr/share/git-core", "/etc/ssl/certs"];

export class RootFs {
  readonly entries = new Map<string, Entry>();

  /** Adds a host path (file, directory or link, with its parents and link targets) at the same path. */
  add(path: string): void {
    if (path === "/") return;
    this.add(dirname(path));
    const canonical = join(realpathSync(dirname(path)), leaf(path));
    if (this.entries.has(canonical)) return;
    const stat = lstatSync(canonical);
    if (stat.isSymbolicLink()) {
      const target = readlinkSync(canonical);
      this.entries.set(canonical, { kind: "link", target });
      this.add(resolve(dirname(canonical), target));
    } else if (stat.isDirectory()) {
      this.entries.set(canonical, { kind: "dir", mode: stat.mode & 0o7777 });
    } else if (stat.isFile()) {
      const fingerprint = `${stat.size}:${Math.floor(stat.mtimeMs)}`;
      this.entries.set(canonical, { kind: "file", source: canonical, mode: stat.mode & 0o7777, fingerprint });
    }
    // Anything else (sockets, devices) is not wanted in an image.
  }

  /** Adds a directory and everything under it. */
  addTree(path: string): void {
    this.add(path);
    const canonical = realpathSync(path);
    for (const name of readdirSync(canonical)) {
      const child = join(canonical, name);
      if (lstatSync(child).isDirectory()) this.addTree(child);
      else this.add(child);
    }
  }

  /** Adds a host file under another path in the image (the running Node.js -> /usr/local/bin/node). */
  addAs(hostPath: string, imagePath: string): void {
    const source = realpathSync(hostPath);
    const stat = lstatSync(source);
    for (let dir = dirname(imagePath); dir !== "/"; dir = dirname(dir)) {
      if (!this.entries.has(dir)) this.entries.set(dir, { kind: "dir", mode: 0o755 });
    }
    const fingerprint = `${stat.size}:${Math.floor(stat.mtimeMs)}`;
    this.entries.set(imagePath, { kind: "file", source, mode: stat.mode & 0o7777, fingerprint });
  }

  /** Adds the shared libraries of every ELF file recorded so far (and of `extra` files). */
  addLibraries(extra: readonly string[] = []): void {
    const elves = [...this.entries.values()]
      .filter((e): e is Extract<Entry, { kind: "file" }> => e.kind === "file" && isElf(e.source))
      .map((e) => e.source);
    for (const file of new Set([...elves, ...extra])) {
      for (const lib of sharedLibraries(file)) this.add(lib);
    }
  }

  /** One line per entry, sorted: what the image's hash covers (paths, modes, sizes and mtimes). */
  fingerprint(): string {
    return [...this.entries]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, e]) =>
        e.kind === "link"
          ? `${path} -> ${e.target}`
          : e.kind === "dir"
            ? `${path}/ ${e.mode.toString(8)}`
            : `${path} ${e.mode.toString(8)} ${e.fingerprint}`,
      )
      .join("\n");
  }

  /** Writes the entries under `root` (a staging directory). */
  stage(root: string): void {
    const sorted = [...this.entries].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [path, entry] of sorted) {
      const dest = join(root, path);
      if (entry.kind === "dir") {
        mkdirSync(dest, { recursive: true });
        chmodSync(dest, entry.mode);
      } else if (entry.kind === "link") {
        mkdirSync(dirname(dest), { recursive: true });
        symlinkSync(entry.target, dest);
      } else {
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(entry.source, dest);
        chmodSync(dest, entry.mode);
      }
    }
  }
}

function leaf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/**
 * The libraries `ldd` resolves for an ELF file, the interpreter included. Unresolvable ones ("not found",
 * e.g. a musl prebuild that npm unpacked beside the glibc one) are left out: that file cannot load here
 * either, and nothing we run loads it.
 */
export function sharedLibraries(file: string): string[] {
  let out: string;
  try {
    out = execFileSync("ldd", [file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return []; // "not a dynamic executable" (static, or another architecture)
  }
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) libs.push(match[1]);
  }
  return libs;
}
