export {
  hasClaudeCredential,
  mayInvite,
  type Standing,
  standingOf,
  standingOfUser,
  userCredentialEnv,
} from "./access.ts";
export { CONNECT_TTL_MS, connectId, humanCode, INVITE_TTL_MS, LINK_TTL_MS, normalizeCode } from "./codes.ts";
export {
  CREDENTIAL_KINDS,
  CredentialInput,
  credentialEnv,
  isCredentialRefusal,
  serialize,
  slotOf,
} from "./credentials.ts";
export { guardOutbox, noticeRefusedCredential } from "./outbound.ts";
