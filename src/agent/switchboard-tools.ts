import { z } from "zod";

/**
 * The switchboard's tools: declared to Claude by the daemon (an in-process MCP server), executed by the
 * control plane with the user's authority when the call arrives over the bridge as a `tool_call` event and
 * answered with a `tool_result` frame. This catalog is the shared contract: names, descriptions and input
 * schemas. The container holds no credential to the control plane.
 */
export const SWITCHBOARD_MCP_SERVER = "cloudclaude";

export interface SwitchboardTool {
  readonly name: string;
  readonly description: string;
  /** A zod raw shape (the SDK's `tool()` takes one); `{}` for no input. */
  readonly input: z.ZodRawShape;
  /**
   * true: Claude Code asks first, so the user approves it in chat (`permission_request`) before the call
   * reaches the control plane. For tools that change or destroy something the user owns.
   */
  readonly needsApproval: boolean;
}

export const SWITCHBOARD_TOOLS = [
  {
    name: "account_status",
    description:
      "What CloudClaude knows about the person you talk to: their account, linked chat identities, projects " +
      "and VMs, and how Claude Code is authenticated for them.",
    input: {},
    needsApproval: false,
  },
] as const satisfies readonly SwitchboardTool[];

export type SwitchboardToolName = (typeof SWITCHBOARD_TOOLS)[number]["name"];

export const SwitchboardToolName = z.enum(
  SWITCHBOARD_TOOLS.map((t) => t.name) as [SwitchboardToolName, ...SwitchboardToolName[]],
);

/** The name Claude Code gives the tool (`mcp__<server>__<tool>`), used in permission rules. */
export function qualifiedToolName(name: string): string {
  return `mcp__${SWITCHBOARD_MCP_SERVER}__${name}`;
}

/** Parses a tool call's input against the catalog; the control plane calls this before executing it. */
export function parseToolInput(
  name: string,
  input: unknown,
): { ok: true; name: SwitchboardToolName; input: Record<string, unknown> } | { ok: false; error: string } {
  const tool = SWITCHBOARD_TOOLS.find((t) => t.name === name);
  if (!tool) return { ok: false, error: `unknown switchboard tool: ${name}` };
  const parsed = z.object(tool.input).safeParse(input ?? {});
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  return { ok: true, name: tool.name, input: parsed.data };
}

export const SWITCHBOARD_SYSTEM_PROMPT = `You are the user's CloudClaude switchboard: their private assistant in this chat for \
CloudClaude, which runs Claude Code for them on development VMs, one per project. You help them set up their account, \
create and manage projects and VMs, and understand what CloudClaude can do. You cannot run commands or read files \
yourself; use only your tools, and never invent what they would return. Answer briefly, in the language the user \
writes in.`;
