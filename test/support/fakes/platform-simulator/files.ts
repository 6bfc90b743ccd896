import { createHmac, randomBytes } from "node:crypto";
import type { SimPlatform } from "./platforms.ts";

/**
 * Files people "sent", served the way each platform serves them to a bot, each checking its own auth:
 * - Telegram: `GET /telegram/bot<token>/getFile?file_id=…` → `file_path`, then
 *   `GET /telegram/file/bot<token>/<file_path>`; a wrong token gets 401 / 404 as Telegram answers.
 * - Slack: `GET /slack/files-pri/<team>-<id>/<name>` (`url_private`) with `Authorization: Bearer <bot token>`;
 *   without it Slack answers 200 with its HTML sign-in page, and so does this.
 * - Discord: `GET /discord/cdn/attachments/<channel>/<id>/<name>?ex=…&is=…&hm=…`, a signed CDN URL: no
 *   token, but the signature must match (403 otherwise).
 * - LINE: `GET /v2/bot/message/<id>/content` (on LINE_DATA_API_BASE_URL) with `Authorization: Bearer
 *   <channel access token>`; 401 otherwise.
 */
export interface HostedFile {
  readonly platform: SimPlatform;
  readonly name: string;
  readonly contentType: string;
  readonly bytes: Buffer;
  /** The credential the download must carry (Telegram: in the path; Slack and LINE: bearer). */
  readonly token?: string;
}

/** What a webhook needs to point at a hosted file. */
export interface HostedRef {
  readonly platform: SimPlatform;
  /** Telegram `file_id`, LINE message id, Slack file id, Discord attachment id. */
  readonly id: string;
  /** Slack `url_private` / Discord CDN `url`. */
  readonly url?: string;
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
}

export interface FileReply {
  readonly endpoint: string;
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

const CDN_KEY = randomBytes(16);

export class HostedFiles {
  readonly #files = new Map<string, HostedFile & { path: string }>();
  #n = 0;

  host(baseUrl: string, file: HostedFile): HostedRef {
    const n = ++this.#n;
    const ref = {
      platform: file.platform,
      name: file.name,
      contentType: file.contentType,
      size: file.bytes.length,
    };
    switch (file.platform) {
      case "telegram": {
        const id = `BQACAgIAAx0${n}fileid`;
        const ext = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")) : "";
        this.#files.set(`telegram:${id}`, { ...file, path: `documents/file_${n}${ext}` });
        return { ...ref, id };
      }
      case "slack": {
        const id = `F0SIM${n}`;
        const path = `/slack/files-pri/T0TESTTEAM-${id}/${encodeURIComponent(file.name)}`;
        this.#files.set(`slack:${path}`, { ...file, path });
        return { ...ref, id, url: `${baseUrl}${path}` };
      }
      case "discord": {
        const id = String(1_300_000_000_000_000_000n + BigInt(n));
        const path = `/discord/cdn/attachments/1200000000000000001/${id}/${encodeURIComponent(file.name)}`;
        this.#files.set(`discord:${path}`, { ...file, path });
        const ex = Math.floor(Date.now() / 1000 + 86_400).toString(16);
        return { ...ref, id, url: `${baseUrl}${path}?ex=${ex}&is=${ex}&hm=${cdnSignature(path, ex)}&` };
      }
      case "line": {
        const id = String(600_000_000_000_000 + n);
        this.#files.set(`line:${id}`, { ...file, path: id });
        return { ...ref, id };
      }
    }
  }

  /** Answers a file request, or undefined when `path` is not one of the file routes. */
  serve(
    method: string,
    path: string,
    query: URLSearchParams,
    authorization: string | undefined,
  ): FileReply | undefined {
    if (method !== "GET") return undefined;
    const json = (endpoint: string, status: number, body: unknown): FileReply => ({
      endpoint,
      status,
      contentType: "application/json",
      body: Buffer.from(JSON.stringify(body)),
    });
    const bytes = (endpoint: string, file: HostedFile): FileReply => ({
      endpoint,
      status: 200,
      contentType: file.contentType,
      body: file.bytes,
    });
    const getFile = /^\/telegram\/bot([^/]+)\/getFile$/.exec(path);
    if (getFile) {
      const file = this.#files.get(`telegram:${query.get("file_id") ?? ""}`);
      if (file && file.token !== undefined && file.token !== getFile[1])
        return json("getFile", 401, { ok: false, error_code: 401, description: "Unauthorized" });
      if (!file)
        return json("getFile", 400, {
          ok: false,
          error_code: 400,
          description: "Bad Request: invalid file_id",
        });
      const result = {
        file_id: query.get("file_id"),
        file_unique_id: "u",
        file_size: file.bytes.length,
        file_path: file.path,
      };
      return json("getFile", 200, { ok: true, result });
    }
    const download = /^\/telegram\/file\/bot([^/]+)\/(.+)$/.exec(path);
    if (download) {
      const file = [...this.#files.values()].find((f) => f.platform === "telegram" && f.path === download[2]);
      if (!file || (file.token !== undefined && file.token !== download[1]))
        return json("file", 404, { ok: false, error_code: 404, description: "Not Found" });
      return bytes("file", file);
    }
    if (path.startsWith("/slack/files-pri/")) {
      const file = this.#files.get(`slack:${encodePath(path)}`);
      if (!file) return json("files-pri", 404, { ok: false, error: "file_not_found" });
      if (file.token !== undefined && authorization !== `Bearer ${file.token}`) {
        const page = "<!DOCTYPE html><html><body>Sign in to Slack</body></html>";
        return {
          endpoint: "files-pri",
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: Buffer.from(page),
        };
      }
      return bytes("files-pri", file);
    }
    if (path.startsWith("/discord/cdn/")) {
      const file = this.#files.get(`discord:${encodePath(path)}`);
      const ex = query.get("ex") ?? "";
      if (!file) return json("cdn", 404, { message: "Not Found" });
      if (query.get("hm") !== cdnSignature(file.path, ex) || Number.parseInt(ex, 16) * 1000 < Date.now())
        return {
          endpoint: "cdn",
          status: 403,
          contentType: "text/plain",
          body: Buffer.from("This content is no longer available."),
        };
      return bytes("cdn", file);
    }
    const content = /^\/v2\/bot\/message\/([^/]+)\/content$/.exec(path);
    if (content) {
      const file = this.#files.get(`line:${content[1]}`);
      if (file && file.token !== undefined && authorization !== `Bearer ${file.token}`)
        return json("content", 401, {
          message:
            "Authentication failed. Confirm that the access token in the authorization header is valid.",
        });
      if (!file) return json("content", 404, { message: "Not found" });
      return bytes("content", file);
    }
    return undefined;
  }
}

function cdnSignature(path: string, ex: string): string {
  return createHmac("sha256", CDN_KEY).update(`${path}:${ex}`).digest("hex");
}

/** The simulator decodes the path; the keys hold it as hosted (names URL-encoded). */
function encodePath(path: string): string {
  const parts = path.split("/");
  const name = parts.pop() ?? "";
  return [...parts, encodeURIComponent(name)].join("/");
}
