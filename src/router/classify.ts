import type { InboundEvent } from "../ingress/event.ts";
import { looksLikeSecret } from "../secrets/redact.ts";

/** The commands handled by the router itself, without an agent. */
export const COMMANDS = [
  "help",
  "status",
  "new",
  "cancel",
  "approve",
  "deny",
  "vm",
  "projects",
  "verbose",
  "bind",
  "unbind",
  "build",
  "members",
] as const;
/** People and their keys (identity-commands.ts). */
export const IDENTITY_COMMANDS = ["connect", "link", "unlink", "invite", "join"] as const;
/**
 * Never typed: a message that holds something shaped like a credential becomes this command, so it is
 * never passed to an agent (nor into its transcript) and the sender is warned.
 */
export const PASTED_SECRET = "pasted_secret";
export type CommandName =
  | (typeof COMMANDS)[number]
  | (typeof IDENTITY_COMMANDS)[number]
  | typeof PASTED_SECRET;

export type Classified =
  /** Text for the agent. */
  | { readonly kind: "message"; readonly text: string }
  | { readonly kind: "command"; readonly name: CommandName; readonly args: string }
  | { readonly kind: "unknown_command"; readonly name: string }
  /** Group chatter not addressed to the bot: kept as context, starts no turn. */
  | { readonly kind: "ignore" };

/**
 * What an inbound event asks for. Chat text starting with `/` is a command when it names one of ours
 * (platform slash commands arrive already split: Slack `/claude …`, Discord `/claude prompt:…` are messages
 * for the agent; Slack `/status` is our command). Button presses carry `approve:<id>` / `deny:<id>`.
 */
export function classify(event: InboundEvent, options: { bound?: boolean } = {}): Classified {
  const content = event.content;
  if (content.type !== "action" && looksLikeSecret(content.text)) {
    return { kind: "command", name: PASTED_SECRET, args: "" };
  }
  if (content.type === "action") {
    const [verb, id = ""] = content.value.split(":", 2);
    if (verb === "approve" || verb === "deny") return { kind: "command", name: verb, args: id };
    return { kind: "ignore" };
  }
  if (content.type === "command") {
    if (isCommand(content.command))
      return { kind: "command", name: content.command, args: content.text.trim() };
    return content.text.trim() === "" ? { kind: "command", name: "help", args: "" } : message(content.text);
  }
  const text = content.text.trim();
  const match = /^\/([A-Za-z_]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(text);
  if (match) {
    const name = (match[1] ?? "").toLowerCase();
    if (isCommand(name)) return { kind: "command", name, args: (match[2] ?? "").trim() };
    if (event.addressedToBot) return { kind: "unknown_command", name };
  }
  if (!event.addressedToBot && !options.bound) return { kind: "ignore" };
  // The files themselves reach the agent with the turn (src/attachments): the daemon writes them into the
  // workspace and adds `[attached: <path> …]` lines, or the router says which could not come.
  return message(text);
}

/** Commands that act on a running turn, so they are handled even while it holds the conversation. */
export function isControl(c: Classified): boolean {
  return (
    c.kind === "command" &&
    (c.name === "cancel" || c.name === "approve" || c.name === "deny" || c.name === "status")
  );
}

function isCommand(name: string): name is CommandName {
  return (
    (COMMANDS as readonly string[]).includes(name) || (IDENTITY_COMMANDS as readonly string[]).includes(name)
  );
}

function message(text: string): Classified {
  return { kind: "message", text };
}
