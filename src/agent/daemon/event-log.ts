import { createReadStream } from "node:fs";
import { type FileHandle, open, readFile, rename, stat, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { Logger } from "../../shared/logger.ts";
import type { AgentHomePaths } from "../home.ts";
import { AgentEvent } from "../protocol.ts";
import { TurnTable, TurnTableSnapshot } from "./turn-table.ts";

/** An event before the log numbers and stamps it. */
export type NewEvent = AgentEvent extends infer E
  ? E extends AgentEvent
    ? Omit<E, "seq" | "at">
    : never
  : never;

const Snapshot = TurnTableSnapshot.extend({ version: z.literal(1), lastSeq: z.number().int().min(0) });

export interface EventLogOptions {
  readonly paths: Pick<AgentHomePaths, "eventsLog" | "turnsSnapshot">;
  readonly logger: Logger;
  /** Compact once the log is this big and the router has acked a part of it. */
  readonly compactBytes?: number;
  /** Ended turns older than this are dropped from the turn table at compaction. */
  readonly retainTurnsMs?: number;
  /** A write or fsync failed: the daemon can no longer promise anything and must stop. */
  readonly onFatal: (error: unknown) => void;
}

/**
 * The append-only event log on the volume: NDJSON, one AgentEvent per line, `seq` strictly increasing.
 * `append` numbers an event at once (so the log's order is the call order); batches are written and
 * fsync'd in the background, and only then handed to `onDurable` (the bridge). So the router never sees an
 * event a crash could take back.
 *
 * `ack` lets the log drop the prefix the router has handled: the turn table is first written to
 * turns.json (atomically), then the log is rewritten without that prefix (atomically).
 */
export class EventLog {
  /** Turn states as of the durable events. */
  readonly table: TurnTable;
  onDurable: (events: readonly AgentEvent[]) => void = () => {};
  private fh: FileHandle;
  private readonly options: EventLogOptions;
  private seq: number;
  private durable: number;
  private acked = 0;
  private size: number;
  private pending: AgentEvent[] = [];
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    fh: FileHandle,
    table: TurnTable,
    lastSeq: number,
    size: number,
    options: EventLogOptions,
  ) {
    this.fh = fh;
    this.table = table;
    this.seq = lastSeq;
    this.durable = lastSeq;
    this.size = size;
    this.options = options;
  }

  static async open(options: EventLogOptions): Promise<EventLog> {
    const { paths, logger } = options;
    let table = new TurnTable();
    let lastSeq = 0;
    const snapshotText = await readFile(paths.turnsSnapshot, "utf8").catch(() => undefined);
    if (snapshotText !== undefined) {
      const snapshot = Snapshot.parse(JSON.parse(snapshotText));
      table = TurnTable.fromSnapshot(snapshot);
      lastSeq = snapshot.lastSeq;
    }
    const fromSnapshot = lastSeq;
    const { complete, size } = await scanLines(paths.eventsLog, (line) => {
      const event = parseEvent(line);
      if (!event) {
        logger.warn({ line: line.slice(0, 200) }, "skipping an unreadable event log line");
        return;
      }
      if (event.seq <= fromSnapshot) return;
      table.apply(event);
      lastSeq = Math.max(lastSeq, event.seq);
    });
    if (complete < size) {
      // The tail of a write a crash cut short was never fsync'd, so it was never sent to anyone.
      logger.warn({ bytes: size - complete }, "truncating a torn event log tail");
      await truncate(paths.eventsLog, complete);
    }
    const fh = await open(paths.eventsLog, "a", 0o600);
    return new EventLog(fh, table, lastSeq, complete, options);
  }

  /** The seq of the last event appended (durable or not). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The seq of the last event known to be on disk. */
  get durableSeq(): number {
    return this.durable;
  }

  append(event: NewEvent): AgentEvent {
    if (this.closed) throw new Error("event log is closed");
    const numbered = { ...event, seq: ++this.seq, at: Date.now() } as AgentEvent;
    this.pending.push(numbered);
    if (this.pending.length === 1) this.enqueue(() => this.writePending());
    return numbered;
  }

  /** Resolves once everything appended so far is on disk and handed to `onDurable`. */
  flush(): Promise<void> {
    return this.chain;
  }

  ack(seq: number): void {
    const through = Math.min(seq, this.durable);
    if (through <= this.acked) return;
    this.acked = through;
    if (this.size >= (this.options.compactBytes ?? 8 * 1024 * 1024))
      this.enqueue(() => this.compact(through));
  }

  /** The logged events with `after < seq <= upTo`, read from disk in order. */
  async *readFrom(after: number, upTo: number): AsyncGenerator<AgentEvent> {
    if (after >= upTo) return;
    const lines = createInterface({
      input: createReadStream(this.options.paths.eventsLog),
      crlfDelay: Infinity,
    });
    try {
      for await (const line of lines) {
        const event = parseEvent(line);
        if (!event || event.seq <= after) continue;
        if (event.seq > upTo) return;
        yield event;
      }
    } finally {
      lines.close();
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.fh.close();
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((error: unknown) => {
      this.options.logger.fatal({ err: error }, "event log write failed");
      this.options.onFatal(error);
    });
  }

  private async writePending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const data = batch.map((e) => `${JSON.stringify(e)}\n`).join("");
    await this.fh.write(data);
    await this.fh.datasync();
    this.size += Buffer.byteLength(data);
    for (const event of batch) this.table.apply(event);
    this.durable = batch[batch.length - 1]?.seq ?? this.durable;
    try {
      this.onDurable(batch);
    } catch (error) {
      this.options.logger.error({ err: error }, "delivering durable events failed");
    }
  }

  private async compact(through: number): Promise<void> {
    const { eventsLog, turnsSnapshot } = this.options.paths;
    this.table.prune(Date.now() - (this.options.retainTurnsMs ?? 14 * 24 * 3600_000));
    const snapshot = { version: 1 as const, lastSeq: this.durable, ...this.table.snapshot() };
    await writeAtomically(turnsSnapshot, JSON.stringify(snapshot));
    const tmp = `${eventsLog}.tmp`;
    const out = await open(tmp, "w", 0o600);
    let kept = 0;
    try {
      for await (const event of this.readFrom(through, this.durable)) {
        const line = `${JSON.stringify(event)}\n`;
        await out.write(line);
        kept += Buffer.byteLength(line);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    await this.fh.close();
    await rename(tmp, eventsLog);
    await syncDir(dirname(eventsLog));
    this.fh = await open(eventsLog, "a", 0o600);
    this.options.logger.info({ through, before: this.size, after: kept }, "event log compacted");
    this.size = kept;
  }
}

function parseEvent(line: string): AgentEvent | undefined {
  if (line.trim() === "") return undefined;
  try {
    const parsed = AgentEvent.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Calls `onLine` for every newline-terminated line; `complete` is the byte offset after the last one. */
async function scanLines(
  path: string,
  onLine: (line: string) => void,
): Promise<{ complete: number; size: number }> {
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return { complete: 0, size: 0 };
  let complete = 0;
  let carry = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { end: size - 1 }) as AsyncIterable<Buffer>) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      onLine(data.subarray(0, nl).toString("utf8"));
      complete += nl + 1;
      data = data.subarray(nl + 1);
    }
    carry = Buffer.from(data);
  }
  return { complete, size };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
