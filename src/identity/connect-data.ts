import type { TurnReply } from "../router/turn-store.ts";

/** What a /connect code remembers: where to say that the credential was saved. */
export interface ConnectCodeData {
  readonly conversationKey: string;
  readonly reply: TurnReply;
}
