import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { type KeyProvider, UnknownKeyError, type WrappedKey } from "./port.ts";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** A short, stable id for a master key: `k` and 12 hex digits of its SHA-256 (reveals nothing usable). */
export function keyIdOf(key: Buffer): string {
  return `k${createHash("sha256").update("cloudclaude-master-key-id").update(key).digest("hex").slice(0, 12)}`;
}

/** Master keys held in memory, the first being current. Wraps data keys with AES-256-GCM. */
export class LocalKeyProvider implements KeyProvider {
  readonly #keys: Map<string, Buffer>;
  readonly currentId: string;
  readonly keyIds: readonly string[];

  constructor(keys: readonly MasterKey[]) {
    const first = keys[0];
    if (!first) throw new Error("at least one master key is needed");
    for (const k of keys) {
      if (k.key.length !== KEY_BYTES) throw new Error(`master key ${k.id} is not ${KEY_BYTES} bytes`);
    }
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentId = first.id;
    this.keyIds = [...this.#keys.keys()];
  }

  async wrap(dataKey: Uint8Array, context: string): Promise<WrappedKey> {
    const key = this.#keys.get(this.currentId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(`cloudclaude-dek:${this.currentId}:${context}`));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { keyId: this.currentId, bytes: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  async unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array> {
    const key = this.#keys.get(wrapped.keyId);
    if (!key) throw new UnknownKeyError(wrapped.keyId);
    const bytes = Buffer.from(wrapped.bytes);
    if (bytes.length < IV_BYTES + TAG_BYTES + 1) throw new Error("wrapped data key is truncated");
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`cloudclaude-dek:${wrapped.keyId}:${context}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
  }
}

/** Parses one master key written as base64 (44 characters) or hex (64 digits). */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(t) && key.toString("base64") !== t)) {
    throw new Error("a master key must be 32 random bytes in base64 or hex (`openssl rand -base64 32`)");
  }
  return key;
}

/** `CLOUDCLAUDE_MASTER_KEY`: comma-separated keys, the first current, the others only for reading. */
export function keysFromEnvironment(value: string): MasterKey[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      const key = parseMasterKey(s);
      return { id: keyIdOf(key), key };
    });
}

interface KeyFileJson {
  readonly version: 1;
  /** Newest first; the first is current. */
  readonly keys: { readonly id: string; readonly key: string; readonly createdAt: string }[];
}

/**
 * The key file: JSON, mode 0600, in a directory of mode 0700, never inside the database. Created on first
 * start when missing. A file readable by group or others is refused: whoever can read it can read every
 * credential.
 */
export class KeyFile {
  readonly path: string;
  constructor(file: string) {
    this.path = file;
  }

  /** Reads the file, creating it with a fresh key when it does not exist. `created` says which. */
  loadOrCreate(): { keys: MasterKey[]; created: boolean } {
    try {
      return { keys: this.read(), created: false };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
    const key = randomBytes(KEY_BYTES);
    try {
      writeDurably(this.path, [{ id: keyIdOf(key), key }]);
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return { keys: this.read(), created: false };
      throw error;
    }
    syncDirectory(path.dirname(this.path));
    return { keys: this.read(), created: true };
  }

  /** Whether the file exists (any other error, e.g. a directory nobody may read, is thrown). */
  exists(): boolean {
    try {
      statSync(this.path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
  }

  read(): MasterKey[] {
    const mode = statSync(this.path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new Error(
        `key file ${this.path} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${this.path}`,
      );
    }
    let parsed: KeyFileJson;
    try {
      parsed = JSON.parse(readFileSync(this.path, "utf8")) as KeyFileJson;
    } catch (error) {
      throw new Error(`key file ${this.path} is not valid JSON: ${(error as Error).message}`);
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.keys) || parsed.keys.length === 0)
      throw new Error(`key file ${this.path} has no keys`);
    return parsed.keys.map((k) => {
      const key = parseMasterKey(k.key);
      if (keyIdOf(key) !== k.id) throw new Error(`key file ${this.path}: key ${k.id} does not match its id`);
      return { id: k.id, key };
    });
  }

  /** Puts a new key first (current), keeping the old ones for reading until `retire`. */
  addKey(): MasterKey {
    const key = randomBytes(KEY_BYTES);
    const fresh = { id: keyIdOf(key), key };
    this.#replace([fresh, ...this.read()]);
    return fresh;
  }

  /** Keeps only the given key ids (after every value was re-encrypted under the current key). */
  retire(keep: readonly string[]): void {
    const kept = this.read().filter((k) => keep.includes(k.id));
    if (kept.length === 0) throw new Error("refusing to remove every key from the key file");
    this.#replace(kept);
  }

  /**
   * Replaces the file atomically and durably: a temporary file with a random name (a pid is not unique:
   * every container's main process is pid 1) is written and fsynced, renamed over the file, and the
   * directory fsynced, so a crash leaves either the old file or the new one, never a torn or lost one.
   */
  #replace(keys: MasterKey[]): void {
    const tmp = `${this.path}.${randomBytes(8).toString("hex")}.tmp`;
    try {
      writeDurably(tmp, keys);
      renameSync(tmp, this.path);
    } catch (error) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already renamed
      }
      throw error;
    }
    syncDirectory(path.dirname(this.path));
  }
}

/** Creates `file` (never overwriting one) with mode 0600, writes the keys and fsyncs it before closing. */
function writeDurably(file: string, keys: readonly MasterKey[]): void {
  const json: KeyFileJson = {
    version: 1,
    keys: keys.map((k) => ({
      id: k.id,
      key: k.key.toString("base64"),
      createdAt: new Date().toISOString(),
    })),
  };
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(json, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename or a new entry in `dir` durable. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The key file does not exist, and this command must not create it (only `serve` does). */
export class MissingKeyFileError extends Error {
  constructor(file: string) {
    super(
      `no master key file at ${file}: \`cloudclaude serve\` creates it on first start (or set CLOUDCLAUDE_MASTER_KEY)`,
    );
    this.name = "MissingKeyFileError";
  }
}

export interface MasterKeySource {
  /** `CLOUDCLAUDE_MASTER_KEY`, when set: it wins over the file. */
  readonly environmentKeys: string | undefined;
  readonly keyFile: string;
}

/**
 * The server's key provider: from the environment, else from the key file. Only `serve` passes
 * `create: true` (the file is made on first start); every other command throws `MissingKeyFileError`
 * rather than make a key nobody backed up.
 */
export function loadKeyProvider(
  source: MasterKeySource,
  options: { create?: boolean } = {},
): {
  provider: LocalKeyProvider;
  origin: "environment" | "file";
  created: boolean;
} {
  if (source.environmentKeys !== undefined) {
    return {
      provider: new LocalKeyProvider(keysFromEnvironment(source.environmentKeys)),
      origin: "environment",
      created: false,
    };
  }
  const file = new KeyFile(source.keyFile);
  if (!options.create) {
    if (!file.exists()) throw new MissingKeyFileError(source.keyFile);
    return { provider: new LocalKeyProvider(file.read()), origin: "file", created: false };
  }
  const { keys, created } = file.loadOrCreate();
  return { provider: new LocalKeyProvider(keys), origin: "file", created };
}
