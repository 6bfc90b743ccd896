import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInbox, type Inbox } from "../../../src/inbox/index.ts";
import type { InboundEvent } from "../../../src/ingress/event.ts";
import { createLogger, type Logger } from "../../../src/shared/logger.ts";
import { type OpenedStore, openStore } from "../../../src/store/index.ts";

/**
 * A real SQLite store and inbox in a temporary directory, for transport tests: `drain` claims and completes
 * everything pending and returns the events in the order the inbox handed them out. `reopen` opens the same
 * file again, as a restarted process would.
 */
export interface InboxHarness {
  readonly dir: string;
  readonly opened: OpenedStore;
  readonly inbox: Inbox;
  /** Events handed out so far by `drain`, across calls. */
  readonly drained: InboundEvent[];
  drain(): Promise<InboundEvent[]>;
  /** An inbox on this database that is closed, so its `enqueue` rejects. */
  brokenInbox(): Promise<Inbox>;
  reopen(): Promise<InboxHarness>;
  close(): Promise<void>;
}

const INBOX_OPTIONS = { maxAttempts: 5, retentionMs: 86_400_000 };

export async function openInboxHarness(dir?: string): Promise<InboxHarness> {
  const home = dir ?? (await mkdtemp(path.join(tmpdir(), "cc-transport-")));
  // The last harness opened on the directory removes it on close.
  let ownsDir = true;
  const opened = await openStore({ kind: "sqlite", path: path.join(home, "cloudclaude.db") });
  const inbox = createInbox(opened.handle, INBOX_OPTIONS);
  const drained: InboundEvent[] = [];
  return {
    dir: home,
    opened,
    inbox,
    drained,
    async drain() {
      const batch: InboundEvent[] = [];
      for (;;) {
        const lease = await inbox.claim({ consumer: "test", leaseMs: 60_000, maxItems: 100 });
        if (lease === undefined) break;
        batch.push(...lease.items.map((item) => item.event));
        await inbox.complete(
          lease,
          lease.items.map((item) => item.id),
        );
      }
      drained.push(...batch);
      return batch;
    },
    async brokenInbox() {
      const broken = createInbox(opened.handle, INBOX_OPTIONS);
      await broken.close();
      return broken;
    },
    async reopen() {
      await inbox.close();
      await opened.store.close();
      ownsDir = false;
      return openInboxHarness(home);
    },
    async close() {
      await inbox.close();
      await opened.store.close();
      if (ownsDir) await rm(home, { recursive: true, force: true });
    },
  };
}

/** A logger whose JSON lines are kept in `lines` (level `debug`). */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    name: "test",
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines };
}

/** Texts of message events, for compact assertions. */
export function texts(events: readonly InboundEvent[]): string[] {
  return events.map((e) => (e.content.type === "message" ? e.content.text : `[${e.content.type}]`));
}
