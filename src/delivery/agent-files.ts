import type { Platform } from "../store/port.ts";

/**
 * Files the agent makes (issue 6): Claude leaves them in `<workspace>/outbox/`, the daemon reports them on
 * `turn_finished`, the router fetches each one over the bridge (`read_file`) and records one outbox message
 * per file (`OutboundExtras.file`), sent after the answer through the same sender path as a long answer's
 * file (`planDelivery`, `PlatformSender.sendFile`). Where bots cannot upload files (LINE), and for files
 * that are refused, a short note names them instead.
 */

/** The platforms whose senders upload files (`PlatformSender.sendFile`); LINE and webchat get the note. */
const FILE_PLATFORMS: ReadonlySet<Platform> = new Set<Platform>(["telegram", "discord", "slack"]);

export function platformTakesFiles(platform: Platform): boolean {
  return FILE_PLATFORMS.has(platform);
}

/** The outbox key of one file of a turn (`turn:<id>:file:<n>` is taken by attachment notices). */
export function agentFileKey(turnId: string, name: string): string {
  return `turn:${turnId}:outfile:${name}`;
}

export interface AgentFileInfo {
  readonly name: string;
  readonly size: number;
}

/** The stored text of a file message: what a platform without file upload would show. */
export function agentFileCaption(file: AgentFileInfo): string {
  return `📎 ${file.name} (${sizeOf(file.size)})`;
}

/** Where files cannot be sent: one note naming them all. */
export function agentFilesNote(files: readonly AgentFileInfo[]): string {
  const list = files.map((f) => `${f.name} (${sizeOf(f.size)})`).join(", ");
  return files.length === 1
    ? `📎 Claude made a file, ${list}; bots cannot send files here, so it stays in the workspace's outbox/sent/ folder.`
    : `📎 Claude made ${files.length} files, ${list}; bots cannot send files here, so they stay in the workspace's outbox/sent/ folder.`;
}

/** A file that was not sent, and why (too large, too many, could not be read). */
export function agentFileRefusedNote(file: AgentFileInfo, reason: string): string {
  return `📎 ${file.name} (${sizeOf(file.size)}) was not sent: ${reason}.`;
}

function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
