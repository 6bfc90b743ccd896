import { parseToolInput } from "../agent/switchboard-tools.ts";
import type { BuildSource, TemplateName } from "../build/port.ts";
import { ProjectError } from "../projects/operations.ts";
import { errorMessage } from "../shared/errors.ts";
import type { RouterContext } from "./context.ts";
import { message } from "./messages.ts";
import type { TurnRecord } from "./turn-store.ts";

export interface ToolOutcome {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * The control plane's side of the switchboard tools: a switchboard calls one over the bridge (`tool_call`)
 * and we run it here with the authority of the user whose turn it is (never more): every operation checks
 * that person's rights (src/projects). The container holds no credential to the control plane. The tool
 * names and schemas Claude sees are declared by the daemon (`src/agent/switchboard-tools.ts`); the input
 * is parsed against the same schemas here, since the container is not trusted to have done so.
 *
 * Results are JSON the agent can explain; a refusal or a failure is `{ error, fix? }` in English (Claude
 * tells the person in their language).
 */
export async function runSwitchboardTool(
  ctx: RouterContext,
  turn: TurnRecord,
  name: string,
  rawInput: unknown,
  callId: string,
): Promise<ToolOutcome> {
  // A router that restarts re-reads the agent's events from its last saved cursor, so a call it already
  // ran can arrive again: it gets the first answer, and the operation (a build, a deletion) runs once.
  const state = ctx.deps.store.transportState;
  const key = toolResultKey(turn.agent, callId);
  const earlier = await state.get<ToolOutcome>(key);
  if (earlier) return earlier;
  const outcome = await execute(ctx, turn, name, rawInput, callId);
  await state.set(key, outcome);
  return outcome;
}

async function execute(
  ctx: RouterContext,
  turn: TurnRecord,
  name: string,
  rawInput: unknown,
  callId: string,
): Promise<ToolOutcome> {
  const parsed = parseToolInput(name, rawInput);
  if (!parsed.ok) return { ok: false, output: JSON.stringify({ error: parsed.error }) };
  try {
    const result = await run(ctx, turn, parsed.name, parsed.input, callId);
    return { ok: true, output: JSON.stringify(result) };
  } catch (error) {
    if (error instanceof ProjectError) {
      return { ok: false, output: JSON.stringify({ error: message("en", error.key, error.params) }) };
    }
    ctx.deps.logger.warn({ err: error, tool: name }, "switchboard tool failed");
    return { ok: false, output: JSON.stringify({ error: errorMessage(error) }) };
  }
}

/** Stored results of tool calls: kept with the approval state and purged with it (`purgeApprovalState`). */
export const TOOL_RESULT_PREFIX = "tool-result:";
const toolResultKey = (agent: string, callId: string) => `${TOOL_RESULT_PREFIX}${agent}:${callId}`;

type Input = Record<string, unknown>;
const str = (input: Input, key: string): string | undefined =>
  typeof input[key] === "string" ? (input[key] as string) : undefined;

async function run(ctx: RouterContext, turn: TurnRecord, name: string, input: Input, callId: string) {
  const ops = ctx.projects;
  const userId = turn.userId;
  const notify = { ...turn.reply, conversationKey: turn.conversationKey };
  const by = await byName(ctx, userId);
  const project = str(input, "project") ?? "";
  switch (name) {
    case "account_status":
      return accountStatus(ctx, userId);
    case "create_project": {
      const created = await ops.create(userId, {
        name: str(input, "name") ?? "",
        repo: str(input, "repo"),
        branch: str(input, "branch"),
      });
      const template = str(input, "template") as TemplateName | undefined;
      if (template === undefined) {
        return {
          created: created.name,
          repo: created.repoUrl,
          branch: created.branch,
          next: "build_environment (the repository's Dockerfile by default, or a template)",
        };
      }
      // The project exists whatever happens to its build: say both, so a retry builds rather than creates.
      try {
        const { build } = await ops.build(
          userId,
          created.name,
          { kind: "template", template },
          notify,
          `tool:${turn.agent}:${callId}`,
        );
        return { created: created.name, build: { id: build.id, status: build.status, template } };
      } catch (error) {
        const why =
          error instanceof ProjectError ? message("en", error.key, error.params) : errorMessage(error);
        return { created: created.name, build: { error: why, fix: "try build_environment again" } };
      }
    }
    case "list_projects":
      return { projects: await ops.list(userId) };
    case "build_environment": {
      const source = buildSource(input);
      const { build, queued, repeated } = await ops.build(
        userId,
        project,
        source,
        notify,
        `tool:${turn.agent}:${callId}`,
      );
      // This very call handled before (a replay after a crash): where its build is now.
      if (repeated) return { build: build.id, status: build.status, step: build.step, error: build.error };
      return queued
        ? {
            build: build.id,
            status: "queued",
            source: source.kind,
            note: "progress and the outcome are posted to this chat",
          }
        : {
            build: build.id,
            status: build.status,
            step: build.step,
            note: "a build of this project is already under way",
          };
    }
    case "build_status": {
      const { project: p, build } = await ops.lastBuild(userId, project);
      if (!build) return { project: p.name, build: null, environment: p.revision };
      return {
        project: p.name,
        environment: p.revision,
        build: {
          id: build.id,
          status: build.status,
          source: build.source,
          step: build.step,
          error: build.error,
          log: build.log,
          dockerfile: build.dockerfile,
          revision: build.revision,
        },
      };
    }
    case "list_conversations":
      return { conversations: await ops.conversations(userId) };
    case "bind_conversation": {
      const ref = str(input, "conversation");
      const key = ref ? await ops.resolveConversation(userId, ref) : turn.conversationKey;
      const { project: p, previous } = await ops.bind(userId, project, key, by, `tool:${callId}`);
      return { bound: await ops.chatName(key), project: p.name, previous: previous?.name ?? null };
    }
    case "unbind_conversation": {
      const ref = str(input, "conversation");
      const key = ref ? await ops.resolveConversation(userId, ref) : turn.conversationKey;
      const p = await ops.unbind(userId, key, by, `tool:${callId}`);
      return { unbound: await ops.chatName(key), project: p.name };
    }
    case "vm_status": {
      const { project: p, info } = await ops.vmStatus(userId, project);
      return {
        project: p.name,
        vm: info
          ? { state: info.state, since: info.since, reason: info.reason, host: info.host }
          : "not created",
        environment: p.revision,
      };
    }
    case "start_vm":
      return { started: (await ops.startVm(userId, project)).name };
    case "stop_vm":
      return { stopped: (await ops.stopVm(userId, project)).name };
    case "delete_vm": {
      const confirm = str(input, "confirm") ?? "";
      if (input.delete_project === true) {
        const { project: p, unbound } = await ops.deleteProject(userId, project, confirm);
        return { deleted: p.name, projectDeleted: true, chatsUnbound: unbound };
      }
      return { deleted: (await ops.deleteVm(userId, project, confirm)).name, projectDeleted: false };
    }
    case "add_member": {
      const { project: p, person } = await ops.addMember(userId, project, str(input, "person") ?? "");
      return { project: p.name, added: person };
    }
    case "remove_member": {
      const { project: p, person } = await ops.removeMember(userId, project, str(input, "person") ?? "");
      return { project: p.name, removed: person };
    }
    default:
      throw new Error(`unknown tool ${name}`);
  }
}

function buildSource(input: Input): BuildSource {
  const dockerfile = str(input, "dockerfile");
  const template = str(input, "template");
  const kind = str(input, "source") ?? (dockerfile ? "dockerfile" : template ? "template" : "repo");
  if (kind === "dockerfile") {
    if (!dockerfile) throw new Error("source=dockerfile needs the Dockerfile text in `dockerfile`");
    return { kind: "dockerfile", text: dockerfile };
  }
  if (kind === "template") {
    if (!template) throw new Error("source=template needs `template`: generic, node, python or go");
    return { kind: "template", template: template as TemplateName };
  }
  const path = str(input, "path");
  return { kind: "repo", ...(path && { path }) };
}

async function byName(ctx: RouterContext, userId: string): Promise<string> {
  const user = await ctx.deps.store.users.get(userId);
  return user?.displayName ?? (await ctx.projects.personName(userId));
}

async function accountStatus(ctx: RouterContext, userId: string) {
  const { store, runtime, agents } = ctx.deps;
  const user = await store.users.get(userId);
  if (!user) throw new Error("unknown user");
  const identities = await store.identities.listForUser(userId);
  const agent = await runtime.inspect(ctx.switchboardName(user));
  const ids = identities.map((i) => `${i.platform}:${i.platformUserId}`);
  const credentials = await store.credentials.list(userId);
  return {
    userId,
    displayName: user.displayName,
    identities: ids,
    switchboard: agent ? { name: agent.name, state: agent.state } : null,
    serverCredential: ids.some((id) => agents.admins.includes(id)),
    credentials: credentials.map((c) => ({ slot: c.slot, kind: c.kind, status: c.status })),
    projects: (await store.projects.listFor(userId)).map((p) => p.name),
    runtime: runtime.kind,
  };
}
