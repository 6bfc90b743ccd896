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
  /**
   * Destroys what cannot be brought back (a VM's disk, a project): asked every time, never allowed "in this
   * chat" for good, so one tap cannot pre-approve the next deletion of something else.
   */
  readonly askEveryTime?: boolean;
}

const project = z.string().describe("The project's name, as list_projects shows it.");
const TEMPLATE = z.enum(["generic", "node", "python", "go"]);

export const SWITCHBOARD_TOOLS = [
  {
    name: "account_status",
    description:
      "What CloudClaude knows about the person you talk to: their account, linked chat identities, projects " +
      "and VMs, and how Claude Code is authenticated for them.",
    input: {},
    needsApproval: false,
  },
  {
    name: "create_project",
    description:
      "Creates a project (a codebase with its own dev VM) owned by the person. Give a repository URL (and " +
      "optionally a branch) to clone, or a template for a project without a repository; with a template the " +
      "environment build starts at once. Next step: build_environment, then bind_conversation.",
    input: {
      name: z.string().describe("Lower-case letters, digits and -, at most 40."),
      repo: z
        .string()
        .optional()
        .describe("https://host/owner/repo.git; private ones need a stored GitHub token."),
      branch: z.string().optional(),
      template: TEMPLATE.optional().describe(
        "Build from this template instead of the repository's Dockerfile.",
      ),
    },
    needsApproval: false,
  },
  {
    name: "list_projects",
    description:
      "The person's projects (owned and joined): repository, environment revision, VM state, last build and the chats bound to each.",
    input: {},
    needsApproval: false,
  },
  {
    name: "build_environment",
    description:
      "Builds (or rebuilds) a project's environment image: from the repository's Dockerfile (default), a " +
      "Dockerfile you write, or a template. Runs in the background for minutes; progress and the outcome are " +
      "posted to this chat by CloudClaude itself, so do not wait or poll. On failure, build_status gives the " +
      "log and the Dockerfile used, so you can offer a fixed Dockerfile.",
    input: {
      project,
      source: z.enum(["repo", "dockerfile", "template"]).optional(),
      dockerfile: z.string().optional().describe("The whole Dockerfile text, with source=dockerfile."),
      path: z.string().optional().describe("The Dockerfile's path in the repository, with source=repo."),
      template: TEMPLATE.optional(),
    },
    needsApproval: false,
  },
  {
    name: "build_status",
    description:
      "The latest build of a project: state, current step, and on failure the error, the last lines of the log and the Dockerfile it used.",
    input: { project },
    needsApproval: false,
  },
  {
    name: "list_conversations",
    description:
      "The chats the person has written in (groups, channels, private chats), and the project each is bound to.",
    input: {},
    needsApproval: false,
  },
  {
    name: "bind_conversation",
    description:
      "Binds a chat to a project: its messages then go to Claude Code on the project's VM. Without " +
      "`conversation`, this chat; otherwise a chat from list_conversations (its name or key). The chat is told.",
    input: { project, conversation: z.string().optional() },
    needsApproval: false,
  },
  {
    name: "unbind_conversation",
    description:
      "Returns a chat to the switchboards (this chat, or one from list_conversations). The chat is told.",
    input: { conversation: z.string().optional() },
    needsApproval: false,
  },
  {
    name: "vm_status",
    description: "The state of a project's VM (running, stopped and since when, host).",
    input: { project },
    needsApproval: false,
  },
  {
    name: "start_vm",
    description: "Starts a project's VM (created from its environment image if it has none yet).",
    input: { project },
    needsApproval: false,
  },
  {
    name: "stop_vm",
    description: "Stops a project's VM (owner only). Its disk stays; the next message starts it again.",
    input: { project },
    needsApproval: false,
  },
  {
    name: "delete_vm",
    description:
      "Deletes a project's VM and its disk, uncommitted work included (owner only); the project and its bindings " +
      "stay and the next message creates a fresh VM. With delete_project=true the project goes too and its " +
      "bound chats are told. The person confirms in chat; `confirm` must repeat the project's name.",
    input: {
      project,
      confirm: z.string().describe("The project's name again, as the person confirmed it."),
      delete_project: z.boolean().optional(),
    },
    needsApproval: true,
    askEveryTime: true,
  },
  {
    name: "add_member",
    description:
      "Lets another person use a project (owner only): talk to its VM in bound chats and approve its tools. " +
      "`person`: their chat identity (telegram:12345) or the name of someone who wrote in one of the owner's chats.",
    input: { project, person: z.string() },
    needsApproval: false,
  },
  {
    name: "remove_member",
    description: "Takes a person's access to a project away (owner only).",
    input: { project, person: z.string() },
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

/** Whether a standing "allow in this chat" may answer a request for `tool` (as Claude Code names it). */
export function mayAllowForChat(tool: string): boolean {
  return !SWITCHBOARD_TOOLS.some(
    (t: SwitchboardTool) =>
      t.askEveryTime === true && (tool === t.name || tool === qualifiedToolName(t.name)),
  );
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
yourself; use only your tools, and never invent what they would return. The usual path for a new project: \
create_project, build_environment (CloudClaude posts the build's progress here by itself), then bind_conversation for \
the group where the person wants to work with Claude Code. When a build fails, read build_status and offer a fixed \
Dockerfile. Answer briefly, in the language the user writes in.`;
