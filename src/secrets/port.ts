/**
 * KeyProvider: where the master keys (key-encryption keys) live: an environment variable or a local key
 * file first, a cloud KMS later. Each secret value is encrypted with its own data key, which the current
 * master key wraps (envelope encryption); rotating the master key re-wraps the data keys only.
 */
export interface KeyProvider {
  /** The key new values are wrapped with. */
  readonly currentId: string;
  /** Every key id this provider can unwrap with (the current one first). */
  readonly keyIds: readonly string[];
  wrap(dataKey: Uint8Array, context: string): Promise<WrappedKey>;
  /** Throws `UnknownKeyError` when the key id is not one of `keyIds`. */
  unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array>;
}

export interface WrappedKey {
  readonly keyId: string;
  readonly bytes: Uint8Array;
}

/** A value was encrypted under a master key this server does not have. */
export class UnknownKeyError extends Error {
  readonly keyId: string;
  constructor(keyId: string) {
    super(
      `this value is encrypted with master key ${keyId}, which this server does not have. ` +
        "Restore the key file or set CLOUDCLAUDE_MASTER_KEY to include it.",
    );
    this.name = "UnknownKeyError";
    this.keyId = keyId;
  }
}
