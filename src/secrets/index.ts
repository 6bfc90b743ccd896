export { type SealedPlace, SecretBox, sealedKeyId } from "./envelope.ts";
export {
  KeyFile,
  keyIdOf,
  keysFromEnvironment,
  LocalKeyProvider,
  loadKeyProvider,
  type MasterKey,
  type MasterKeySource,
  MissingKeyFileError,
  parseMasterKey,
} from "./keys.ts";
export { type KeyProvider, UnknownKeyError, type WrappedKey } from "./port.ts";
export { knownSecrets, looksLikeSecret, REDACTED, redactSecrets, SecretRedactor } from "./redact.ts";
export { assertKeysPresent, configSecrets, loadSecrets } from "./server.ts";
