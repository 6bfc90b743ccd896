import type { TurnReply } from "../router/turn-store.ts";
import type { Platform } from "../store/port.ts";

/** What a /connect code remembers: where to say that the credential was saved, and whose account it is for. */
export interface ConnectCodeData {
  readonly conversationKey: string;
  readonly reply: TurnReply;
  /** The chat account that asked for the link, shown on the page so nobody pastes into someone else's. */
  readonly account?: { readonly platform: Platform; readonly displayName: string | null };
}

/** What a /link code remembers: the chat that issued it, told when another account joins through it. */
export interface LinkCodeData {
  readonly conversationKey: string;
  readonly reply: TurnReply;
}
