import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyProvider } from "./port.ts";

const PREFIX = "ccs1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Where a sealed value lives. It becomes the associated data of both encryptions, so a value copied into
 * another row or column (say, one person's token pasted over another's) fails to open.
 */
export interface SealedPlace {
  readonly table: string;
  readonly column: string;
  readonly row: string;
}

/**
 * Envelope encryption of single values: each value gets a fresh 256-bit data key and is encrypted with
 * AES-256-GCM; the data key is wrapped by the provider's current master key. The sealed text is
 * `ccs1.<key id>.<wrapped data key>.<iv>.<ciphertext>.<tag>` (base64url parts), so rotation can tell which
 * master key a value needs and re-wrap just its data key.
 */
export class SecretBox {
  readonly #keys: KeyProvider;
  constructor(keys: KeyProvider) {
    this.#keys = keys;
  }

  get currentKeyId(): string {
    return this.#keys.currentId;
  }

  /** Every master key id this box can open values of. */
  get keyIds(): readonly string[] {
    return this.#keys.keyIds;
  }

  async seal(plaintext: string, place: SealedPlace): Promise<string> {
    const context = contextOf(place);
    const dataKey = randomBytes(32);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const wrapped = await this.#keys.wrap(dataKey, context);
    dataKey.fill(0);
    return [PREFIX, wrapped.keyId, b64(wrapped.bytes), b64(iv), b64(body), b64(cipher.getAuthTag())].join(
      ".",
    );
  }

  async open(sealed: string, place: SealedPlace): Promise<string> {
    const parts = parse(sealed);
    const context = contextOf(place);
    const dataKey = Buffer.from(
      await this.#keys.unwrap({ keyId: parts.keyId, bytes: parts.wrapped }, context),
    );
    try {
      const decipher = createDecipheriv("aes-256-gcm", dataKey, parts.iv);
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.body), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(`sealed value for ${context} does not open: tampered with, or moved from another row`);
    } finally {
      dataKey.fill(0);
    }
  }

  /** The sealed value with its data key re-wrapped under the current master key (ciphertext unchanged). */
  async rewrap(sealed: string, place: SealedPlace): Promise<string> {
    const parts = parse(sealed);
    if (parts.keyId === this.#keys.currentId) return sealed;
    const context = contextOf(place);
    const dataKey = await this.#keys.unwrap({ keyId: parts.keyId, bytes: parts.wrapped }, context);
    const wrapped = await this.#keys.wrap(dataKey, context);
    Buffer.from(dataKey.buffer, dataKey.byteOffset, dataKey.byteLength).fill(0);
    return [PREFIX, wrapped.keyId, b64(wrapped.bytes), b64(parts.iv), b64(parts.body), b64(parts.tag)].join(
      ".",
    );
  }
}

/** The master key id a sealed value is wrapped with. */
export function sealedKeyId(sealed: string): string {
  return parse(sealed).keyId;
}

function contextOf(place: SealedPlace): string {
  return `${place.table}.${place.column}:${place.row}`;
}

function parse(sealed: string) {
  const parts = sealed.split(".");
  if (parts.length !== 6 || parts[0] !== PREFIX) throw new Error("not a sealed value");
  const [, keyId = "", wrapped = "", iv = "", body = "", tag = ""] = parts;
  const out = {
    keyId,
    wrapped: Buffer.from(wrapped, "base64url"),
    iv: Buffer.from(iv, "base64url"),
    body: Buffer.from(body, "base64url"),
    tag: Buffer.from(tag, "base64url"),
  };
  // A short tag would weaken GCM's integrity check: accept only full-length ones.
  if (out.iv.length !== IV_BYTES || out.tag.length !== TAG_BYTES) throw new Error("not a sealed value");
  return out;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
