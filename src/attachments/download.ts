import { extname } from "node:path";
import { MAX_TURN_ATTACHMENT_BYTES, MAX_TURN_ATTACHMENTS, type TurnAttachment } from "../agent/protocol.ts";
import type { PlatformsConfig } from "../config/index.ts";
import type { Attachment, InboundEvent } from "../ingress/event.ts";
import type { Logger } from "../shared/logger.ts";

/** Why a file a person sent did not reach the agent. */
export type SkipReason = "too_large" | "turn_limit" | "failed" | "unsupported";

export interface SkippedAttachment {
  readonly name: string;
  readonly reason: SkipReason;
  readonly sizeBytes?: number;
}

export interface DownloadedBatch {
  readonly files: TurnAttachment[];
  readonly skipped: SkippedAttachment[];
}

export interface AttachmentFetcherOptions {
  readonly platforms: PlatformsConfig;
  /** Largest file fetched (bytes); larger ones are skipped, unread past the limit. */
  readonly maxBytes: number;
  /** How long one download may take. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * Downloads the files people send, with each platform's own auth, from the platforms' configured base
 * URLs: Telegram `getFile` then `/file/bot<token>/<path>` (TELEGRAM_API_ROOT); Slack `url_private` with the
 * bot token (sent only to Slack's own hosts or SLACK_API_URL's); Discord's signed CDN URL as given (no
 * token); LINE `/v2/bot/message/<id>/content` on LINE_DATA_API_BASE_URL with the channel token (or a
 * `contentProvider` URL as given). Every file is size-limited (declared size first, then the bytes as
 * they come) and time-limited. Nothing here logs a token or a URL (Telegram's file URLs hold the token).
 */
export class AttachmentFetcher {
  readonly #options: AttachmentFetcherOptions;

  constructor(options: AttachmentFetcherOptions) {
    this.#options = options;
  }

  get maxBytes(): number {
    return this.#options.maxBytes;
  }

  /** Every attachment of `events`, in order, within the per-file and per-turn limits. */
  async fetchAll(events: readonly InboundEvent[]): Promise<DownloadedBatch> {
    const files: TurnAttachment[] = [];
    const skipped: SkippedAttachment[] = [];
    let total = 0;
    for (const event of events) {
      if (event.content.type !== "message") continue;
      for (const [i, attachment] of event.content.attachments.entries()) {
        const name = displayName(attachment, i);
        const declared = attachment.sizeBytes;
        if (declared !== undefined && declared > this.#options.maxBytes) {
          skipped.push({ name, reason: "too_large", sizeBytes: declared });
          continue;
        }
        if (files.length >= MAX_TURN_ATTACHMENTS || total + (declared ?? 0) > MAX_TURN_ATTACHMENT_BYTES) {
          skipped.push({ name, reason: "turn_limit" });
          continue;
        }
        const result = await this.#fetchOne(event, attachment, name);
        if ("reason" in result) {
          skipped.push(result);
          continue;
        }
        if (total + result.bytes.length > MAX_TURN_ATTACHMENT_BYTES) {
          skipped.push({ name, reason: "turn_limit" });
          continue;
        }
        total += result.bytes.length;
        files.push({
          name: result.name,
          mediaType: result.mediaType,
          dataBase64: result.bytes.toString("base64"),
        });
      }
    }
    return { files, skipped };
  }

  async #fetchOne(
    event: InboundEvent,
    attachment: Attachment,
    name: string,
  ): Promise<{ name: string; mediaType: string; bytes: Buffer } | SkippedAttachment> {
    const { logger } = this.#options;
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const source = await this.#source(event.platform, attachment, signal);
      if (source === undefined) return { name, reason: "unsupported" };
      // (fetch drops the Authorization header on a redirect to another origin.)
      const res = await fetch(source.url, { headers: source.headers, signal });
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        logger.warn({ platform: event.platform, name, status: res.status }, "attachment download refused");
        return { name, reason: "failed" };
      }
      const type = res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
      // Slack answers a request without a valid token with its sign-in page, status 200.
      if (event.platform === "slack" && type === "text/html" && attachment.mimeType !== "text/html") {
        await res.body?.cancel().catch(() => {});
        logger.warn({ platform: event.platform, name }, "attachment download answered with a sign-in page");
        return { name, reason: "failed" };
      }
      const length = Number(res.headers.get("content-length") ?? Number.NaN);
      if (length > this.#options.maxBytes) {
        await res.body?.cancel().catch(() => {});
        return { name, reason: "too_large", sizeBytes: length };
      }
      const bytes = await readLimited(res, this.#options.maxBytes);
      if (bytes === undefined) return { name, reason: "too_large" };
      // Bounded as the `turn` frame wants them (a frame that fails validation would never run).
      const finalName = (source.name || name).slice(0, 255);
      const valid = (t: string | undefined) =>
        t && /^[\w.+-]{1,64}\/[\w.+-]{1,128}$/.test(t) ? t : undefined;
      const mediaType =
        valid(attachment.mimeType?.toLowerCase()) ??
        valid(type && type !== "application/octet-stream" ? type : undefined) ??
        mediaTypeOf(finalName) ??
        "application/octet-stream";
      return { name: withExtension(finalName, mediaType), mediaType, bytes };
    } catch (error) {
      if (error instanceof TooLarge) return { name, reason: "too_large", sizeBytes: error.size };
      logger.warn(
        { platform: event.platform, name, error: (error as Error).name, code: codeOf(error) },
        "attachment download failed",
      );
      return { name, reason: "failed" };
    }
  }

  /** Where the file is and how to authenticate, per platform; undefined when it cannot be fetched. */
  async #source(
    platform: InboundEvent["platform"],
    attachment: Attachment,
    signal: AbortSignal,
  ): Promise<{ url: string; headers: Record<string, string>; name?: string } | undefined> {
    const { platforms } = this.#options;
    switch (platform) {
      case "telegram": {
        const { botToken, apiRoot } = platforms.telegram;
        if (!botToken) return undefined;
        const root = apiRoot.replace(/\/+$/, "");
        const info = await fetch(
          `${root}/bot${botToken}/getFile?file_id=${encodeURIComponent(attachment.ref)}`,
          { signal },
        );
        const body = (await info.json().catch(() => ({}))) as {
          ok?: boolean;
          result?: { file_path?: string; file_size?: number };
        };
        const path = body.result?.file_path;
        if (!info.ok || body.ok !== true || !path) throw new DownloadError(`getFile answered ${info.status}`);
        const size = body.result?.file_size;
        if (size !== undefined && size > this.#options.maxBytes) throw new TooLarge(size);
        const base = path.split("/").pop() ?? path;
        const encoded = path.split("/").map(encodeURIComponent).join("/");
        return {
          url: `${root}/file/bot${botToken}/${encoded}`,
          headers: {},
          ...(attachment.name === undefined && { name: base }),
        };
      }
      case "slack": {
        const { botToken, apiUrl } = platforms.slack;
        if (!botToken || !isHttpUrl(attachment.ref)) return undefined;
        const host = new URL(attachment.ref).host;
        const ownHost = new URL(apiUrl).host;
        // The bot token goes to Slack only (or to the configured test double), never to a URL's whim.
        if (host !== ownHost && !/(^|\.)slack\.com$/i.test(host) && !/(^|\.)slack-edge\.com$/i.test(host))
          return undefined;
        return { url: attachment.ref, headers: { authorization: `Bearer ${botToken}` } };
      }
      case "discord":
        return isHttpUrl(attachment.ref) ? { url: attachment.ref, headers: {} } : undefined;
      case "line": {
        if (isHttpUrl(attachment.ref)) return { url: attachment.ref, headers: {} }; // contentProvider: external
        const { accessToken } = platforms.line;
        if (!accessToken) return undefined;
        const base = (platforms.line.dataApiBaseUrl ?? "https://api-data.line.me").replace(/\/+$/, "");
        return {
          url: `${base}/v2/bot/message/${encodeURIComponent(attachment.ref)}/content`,
          headers: { authorization: `Bearer ${accessToken}` },
        };
      }
      default:
        return undefined;
    }
  }
}

class DownloadError extends Error {
  override name = "DownloadError";
}
class TooLarge extends Error {
  override name = "TooLarge";
  readonly size: number;
  constructor(size: number) {
    super("too large");
    this.size = size;
  }
}

/** The body, or undefined as soon as it passes `max` bytes (the rest is not read). */
async function readLimited(res: Response, max: number): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function codeOf(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** What to call an attachment in messages before it is fetched. */
export function displayName(attachment: Attachment, index: number): string {
  if (attachment.name) return attachment.name;
  let fromUrl = "";
  try {
    if (isHttpUrl(attachment.ref))
      fromUrl = decodeURIComponent(new URL(attachment.ref).pathname.split("/").pop() ?? "");
  } catch {
    // a malformed URL: fall back on the kind
  }
  if (fromUrl && extname(fromUrl)) return fromUrl;
  return `${attachment.kind}-${index + 1}`;
}

const TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".heic": "image/heic",
  ".mp4": "video/mp4",
  ".mov": "video/quicktime",
  ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4",
  ".ogg": "audio/ogg",
  ".oga": "audio/ogg",
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".json": "application/json",
  ".zip": "application/zip",
};

function mediaTypeOf(name: string): string | undefined {
  return TYPES[extname(name).toLowerCase()];
}

/** A name without an extension gets the one its media type implies (LINE images: `image-1` → `.jpg`). */
function withExtension(name: string, mediaType: string): string {
  if (extname(name) !== "") return name;
  const ext = Object.entries(TYPES).find(([, type]) => type === mediaType)?.[0];
  return ext ? `${name}${ext}` : name;
}
