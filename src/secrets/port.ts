/**
 * KeyProvider: where the key-encryption key lives (a local key file first; a cloud KMS later). Credentials
 * are encrypted with per-record data keys that this provider wraps and unwraps (envelope encryption).
 */
export interface KeyProvider {
  readonly keyId: string;
  wrap(dataKey: Uint8Array): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
}
