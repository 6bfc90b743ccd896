import type { InboundEvent } from "../ingress/event.ts";
import { ProjectError } from "../projects/operations.ts";
import type { Project, User } from "../store/index.ts";
import { projectAgent } from "../vm/names.ts";
import type { AgentInfo } from "../vm/port.ts";
import type { RouterContext } from "./context.ts";
import { duration, type Language, message } from "./messages.ts";

/**
 * `/vm status|start|stop|restart|delete` and `/projects`: the seed's VM management flow from chat. `/vm`
 * acts on the project bound to this chat, or on the project named after the verb (`/vm stop website`);
 * only the project's owner may change its VM. Deleting needs the project's name as confirmation.
 */
export async function runVmCommand(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  user: User,
  args: string,
): Promise<void> {
  const [verb = "status", named] = args.trim().split(/\s+/).filter(Boolean);
  const { store, runtime } = ctx.deps;
  const ops = ctx.projects;
  if (!["status", "start", "stop", "restart", "delete"].includes(verb)) {
    return ctx.say(key, event, "vmUsage");
  }
  let project: Project | undefined;
  try {
    // A project named after the verb (`/vm stop website`), else the one this chat is bound to. For
    // `delete`, a name that is not a project falls back to the bound one (the name is the confirmation).
    if (named && !(verb === "delete" && !(await store.projects.byName(named)))) {
      project = await ops.find(user.id, named);
    } else {
      const target = await ctx.targetFor(event, user);
      if (!target.project) return ctx.say(key, event, "vmNotBound");
      if (!target.allowed) return ctx.say(key, event, "notMember", { project: target.project.name });
      project = target.project;
    }
    const params = { project: project.name };
    const agent = projectAgent(project.id);
    const lang = ctx.language(event);
    switch (verb) {
      case "status": {
        const info = await runtime.inspect(agent);
        if (!info) return ctx.say(key, event, "vmNotCreated", params);
        return ctx.say(key, event, "vmStatus", {
          ...params,
          state: info.state,
          detail: stateDetail(lang, info, ctx.now()),
          host: info.host ?? "local",
        });
      }
      case "start":
        await ops.startVm(user.id, project.name);
        return ctx.say(key, event, "vmStarted", params);
      case "stop":
        await ops.stopVm(user.id, project.name);
        return ctx.say(key, event, "vmStopped", params);
      case "restart":
        // Not stopped when it could not start again (no environment yet).
        await ops.requireEnvironment(project);
        await ops.stopVm(user.id, project.name);
        await ops.startVm(user.id, project.name);
        return ctx.say(key, event, "vmRestarted", params);
      case "delete":
        await ops.deleteVm(user.id, project.name, named ?? "");
        return ctx.say(key, event, "vmDeleted", params);
    }
  } catch (error) {
    if (error instanceof ProjectError) return ctx.say(key, event, error.key, error.params);
    ctx.deps.logger.warn({ err: error, project: project?.name, verb }, "/vm failed");
    return ctx.say(key, event, "vmFailed", { error: error instanceof Error ? error.message : String(error) });
  }
}

/** `/projects`: the person's projects, each with its VM's state and whether this chat is bound to it. */
export async function runProjectsCommand(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  user: User,
): Promise<void> {
  const { store, runtime } = ctx.deps;
  const mine = await store.projects.listFor(user.id);
  if (mine.length === 0) return ctx.say(key, event, "projectsNone");
  const bound = await store.projects.bindingOf(event.conversation.key);
  const lang = ctx.language(event);
  const lines = await Promise.all(
    mine.map(async (p) => {
      const info = await runtime.inspect(projectAgent(p.id));
      return message(lang, "projectsLine", {
        project: p.name,
        here: bound?.projectId === p.id ? "yes" : "",
        state: info?.state ?? "",
        revision: p.revision ?? "",
      });
    }),
  );
  return ctx.say(key, event, "projectsList", { list: lines.join("\n") });
}

/** "went to sleep after 30 min idle, 2 h ago" and the like, for `/status` and `/vm status`. */
export function stateDetail(lang: Language, info: AgentInfo, now: number): string {
  if (info.state !== "stopped" || info.since === undefined) return info.error ?? "";
  const idleFor = info.lastActiveAt !== undefined ? info.since - info.lastActiveAt : 0;
  const reason = message(lang, "sleepReason", {
    reason: info.reason ?? "stopped",
    duration: duration(lang, Math.max(idleFor, 0)),
  });
  return message(lang, "asleepFor", { duration: duration(lang, now - info.since), reason });
}
