import type { Command } from "commander";
import type { Config } from "../config/index.ts";
import { createInbox, type Inbox } from "../inbox/index.ts";
import { withStore } from "./with-store.ts";

/** `cloudclaude inbox …`: what operators need to see and unstick the inbox. */
export function registerInboxCommands(program: Command, load: () => Config): void {
  const inbox = program
    .command("inbox")
    .description("Inspect the inbox of inbound messages and its dead letters.");

  inbox
    .command("stats")
    .description("Count pending, leased, dead-lettered and retained items.")
    .action(() =>
      withInbox(load(), async (ib) => {
        const s = await ib.stats();
        console.log(`pending: ${s.pending} (oldest ${Math.round(s.oldestPendingAgeMs / 1000)} s)`);
        console.log(`leased conversations: ${s.leased}`);
        console.log(`dead letters: ${s.dead}`);
        console.log(`handled, kept for dedupe: ${s.done}`);
      }),
    );

  const dead = inbox.command("dead").description("Dead letters: messages that failed every attempt.");
  dead
    .command("ls")
    .description("List dead letters, newest first.")
    .option("-n, --limit <count>", "how many to show", "50")
    .action((options: { limit: string }) =>
      withInbox(load(), async (ib) => {
        const letters = await ib.listDeadLetters({ limit: Number.parseInt(options.limit, 10) || 50 });
        if (letters.length === 0) console.log("no dead letters");
        for (const d of letters) {
          console.log(
            `#${d.id}  ${new Date(d.failedAt).toISOString()}  ${d.conversationKey}  ${d.platform}:${d.eventId}  ` +
              `attempts=${d.attempts}  ${d.lastError ?? ""}`,
          );
        }
      }),
    );
  dead
    .command("retry")
    .description("Put dead letters back at the head of their conversations.")
    .argument("<id...>", "dead letter ids, as listed by `inbox dead ls`")
    .action((ids: string[]) =>
      withInbox(load(), async (ib) => {
        for (const raw of ids) {
          const id = Number.parseInt(raw, 10);
          const ok = Number.isSafeInteger(id) && (await ib.retryDeadLetter(id));
          console.log(ok ? `#${raw} queued again` : `#${raw} is not a dead letter`);
          if (!ok) process.exitCode = 1;
        }
      }),
    );
}

function withInbox(config: Config, run: (inbox: Inbox) => Promise<void>): Promise<void> {
  return withStore(config, async ({ handle }) => {
    const inbox = createInbox(handle, config.inbox);
    try {
      await run(inbox);
    } finally {
      await inbox.close();
    }
  });
}
