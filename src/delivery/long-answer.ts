import type { OutboundMessage, PlatformSender } from "./port.ts";

/**
 * Very long answers (issue 6): rather than a wall of messages, a short head of the answer in the chat and
 * the whole text as a file, where bots can upload files (Telegram `sendDocument`, a Discord attachment,
 * Slack's external upload). LINE bots cannot send files: there the answer stays in chunks (see LineSender).
 */

/** A reply that splits into more chunks than this is sent as a head plus a file. */
export const DEFAULT_ATTACH_AFTER_CHUNKS = 3;
/** About how much of the answer the head shows. */
const HEAD_CHARS = 1_200;

export interface ReplyFile {
  readonly name: string;
  /** Text (sent as UTF-8) or bytes. */
  readonly content: string | Uint8Array;
  readonly mediaType: string;
}

/** A file's bytes as senders upload them. */
export function fileBytes(file: ReplyFile): Buffer {
  return typeof file.content === "string" ? Buffer.from(file.content, "utf8") : Buffer.from(file.content);
}

/** What the dispatcher sends for a message: its text chunks, then, for a long answer, the file. */
export interface DeliveryPlan {
  readonly chunks: readonly string[];
  readonly file?: ReplyFile | undefined;
  /** The line ending the head that says where the whole answer is (with `file`). */
  readonly note?: string | undefined;
}

/**
 * The chunks of `message` and, when it is a long answer the platform can attach, the file. Deterministic
 * in the stored message, so a retry after a crash continues the same plan from its recorded step.
 */
export function planDelivery(
  sender: PlatformSender,
  message: OutboundMessage,
  attachAfterChunks: number = DEFAULT_ATTACH_AFTER_CHUNKS,
): DeliveryPlan {
  const extras = message.extras;
  // A file the agent made: only the file where the platform takes files, else the text naming it.
  if (extras?.file) {
    const { name, mediaType, dataBase64 } = extras.file;
    return sender.sendFile
      ? { chunks: [], file: { name, mediaType, content: Buffer.from(dataBase64, "base64") } }
      : { chunks: sender.chunk(message.text) };
  }
  const chunks = sender.chunk(message.text);
  const attachable =
    sender.sendFile !== undefined &&
    attachAfterChunks > 0 &&
    chunks.length > attachAfterChunks &&
    extras?.noticeFor === undefined &&
    (extras?.buttons?.length ?? 0) === 0 &&
    extras?.sensitive !== true;
  if (!attachable) return { chunks };
  const name = "answer.md";
  const note = `_… ${message.text.length.toLocaleString("en")} characters in all: the whole answer is in ${name}._`;
  return {
    chunks: sender.chunk(`${headOf(message.text, HEAD_CHARS)}\n\n${note}`).slice(0, 1),
    file: { name, content: message.text, mediaType: "text/markdown" },
    note,
  };
}

/** The start of `text`, about `max` characters, cut at a paragraph, line or word, code fences closed. */
export function headOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const window = text.slice(0, max);
  const cut = [window.lastIndexOf("\n\n"), window.lastIndexOf("\n"), window.lastIndexOf(" ")].find(
    (at) => at > max / 2,
  );
  let head = window.slice(0, cut ?? max).trimEnd();
  if ((head.match(/^\s*```/gm)?.length ?? 0) % 2 === 1) head = `${head}\n\`\`\``;
  return head;
}
