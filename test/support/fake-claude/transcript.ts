import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The fake's session transcript, where Claude Code keeps it:
 * `$CLAUDE_CONFIG_DIR/projects/<cwd with every non-alphanumeric char → "-">/<session-id>.jsonl`.
 * Resuming reads it back, so a test that loses the config volume sees "No conversation found".
 */
export interface TranscriptEntry {
  readonly type: "user" | "assistant";
  readonly uuid: string;
  readonly parentUuid: string | null;
  readonly sessionId: string;
  readonly cwd: string;
  readonly timestamp: string;
  readonly message: { role: "user" | "assistant"; content: string };
  readonly costUsd?: number;
}

export function projectDirName(cwd: string): string {
  return cwd.replace(/[^A-Za-z0-9]/g, "-");
}

export class Transcript {
  readonly path: string;
  readonly entries: TranscriptEntry[];

  private constructor(path: string, entries: TranscriptEntry[]) {
    this.path = path;
    this.entries = entries;
  }

  /** A new, empty transcript for `sessionId` in `cwd`'s project directory. */
  static create(configDir: string, cwd: string, sessionId: string): Transcript {
    const dir = join(configDir, "projects", projectDirName(cwd));
    return new Transcript(join(dir, `${sessionId}.jsonl`), []);
  }

  /** Looks in `cwd`'s project directory first, then in every project directory (as CLI ≥ 2.1.223 does). */
  static find(configDir: string, cwd: string, sessionId: string): string | undefined {
    const own = join(configDir, "projects", projectDirName(cwd), `${sessionId}.jsonl`);
    if (existsSync(own)) return own;
    const projects = join(configDir, "projects");
    if (!existsSync(projects)) return undefined;
    for (const dir of readdirSync(projects)) {
      const candidate = join(projects, dir, `${sessionId}.jsonl`);
      if (existsSync(candidate)) return candidate;
    }
    return undefined;
  }

  static load(path: string): Transcript {
    const entries: TranscriptEntry[] = [];
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      try {
        entries.push(JSON.parse(line) as TranscriptEntry);
      } catch {
        // a torn last line after a crash: Claude Code skips it too
      }
    }
    return new Transcript(path, entries);
  }

  /** `--fork-session`: the history is copied under a new id. */
  fork(configDir: string, cwd: string, sessionId: string): Transcript {
    const forked = Transcript.create(configDir, cwd, sessionId);
    mkdirSync(join(forked.path, ".."), { recursive: true });
    if (existsSync(this.path)) copyFileSync(this.path, forked.path);
    forked.entries.push(...this.entries.map((e) => ({ ...e, sessionId })));
    return forked;
  }

  append(entry: Omit<TranscriptEntry, "parentUuid" | "timestamp">): void {
    const full: TranscriptEntry = {
      ...entry,
      parentUuid: this.entries.at(-1)?.uuid ?? null,
      timestamp: new Date().toISOString(),
    };
    mkdirSync(join(this.path, ".."), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify(full)}\n`);
    this.entries.push(full);
  }

  userPrompts(): number {
    return this.entries.filter((e) => e.type === "user").length;
  }

  totalCostUsd(): number {
    return this.entries.reduce((sum, e) => sum + (e.costUsd ?? 0), 0);
  }
}
