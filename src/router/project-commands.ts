import { TEMPLATES, type TemplateName } from "../build/port.ts";
import type { InboundEvent } from "../ingress/event.ts";
import { ProjectError } from "../projects/operations.ts";
import type { User } from "../store/index.ts";
import type { RouterContext } from "./context.ts";
import { replyTo } from "./context.ts";
import { runProjectsCommand } from "./vm-commands.ts";

/**
 * The chat commands for people who prefer no agent, over the same operations as the switchboard's tools
 * (src/projects): `/bind <project>`, `/unbind`, `/build <project> [template]`, `/members <project> [add|remove
 * <person>]`, `/projects [new <name> [repo] [branch] | delete <name>]`. Replies are keyed on the inbox item,
 * so a replay after a crash answers once.
 */
export async function runProjectCommand(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  user: User,
  name: "bind" | "unbind" | "build" | "members" | "projects",
  args: string,
): Promise<void> {
  const words = args.trim().split(/\s+/).filter(Boolean);
  const ops = ctx.projects;
  const by = event.sender.displayName ?? `${event.platform}:${event.sender.platformUserId}`;
  try {
    switch (name) {
      case "bind": {
        const [project] = words;
        if (!project) return ctx.say(key, event, "bindUsage");
        // The binding's announcement in this chat is the reply.
        await ops.bind(user.id, project, event.conversation.key, by, key);
        return;
      }
      case "unbind":
        await ops.unbind(user.id, event.conversation.key, by, key);
        return;
      case "build": {
        const [project, template] = words;
        if (!project || (template !== undefined && !TEMPLATES.includes(template as TemplateName))) {
          return ctx.say(key, event, "buildUsage");
        }
        const source = template
          ? ({ kind: "template", template: template as TemplateName } as const)
          : ({ kind: "repo" } as const);
        const notify = { ...replyTo(event, ctx.language(event)), conversationKey: event.conversation.key };
        const {
          build,
          queued,
          repeated,
          project: p,
        } = await ops.build(user.id, project, source, notify, key);
        // A queued build says so itself (the Build Service posts "building…" and its progress here); this
        // command handled again after a crash has its build already, and says nothing new.
        if (!queued && !repeated)
          return ctx.say(key, event, "buildAlreadyRunning", { project: p.name, step: build.step ?? "" });
        return;
      }
      case "members": {
        const [project, verb, ...rest] = words;
        if (!project) return ctx.say(key, event, "membersUsage");
        const person = rest.join(" ");
        if (verb === "add" && person) {
          const added = await ops.addMember(user.id, project, person);
          return ctx.say(key, event, "memberAdded", { project: added.project.name, person: added.person });
        }
        if (verb === "remove" && person) {
          const removed = await ops.removeMember(user.id, project, person);
          return ctx.say(key, event, "memberRemoved", {
            project: removed.project.name,
            person: removed.person,
          });
        }
        if (verb !== undefined) return ctx.say(key, event, "membersUsage");
        const list = await ops.members(user.id, project);
        return ctx.say(key, event, "membersList", {
          project: list.project.name,
          owner: list.owner,
          members: list.members.join(", "),
        });
      }
      case "projects": {
        const [verb, project, ...rest] = words;
        if (verb === undefined) return runProjectsCommand(ctx, key, event, user);
        if (verb === "new" && project) {
          const created = await ops.create(user.id, { name: project, repo: rest[0], branch: rest[1] });
          return ctx.say(key, event, "projectCreated", {
            project: created.name,
            repo: created.repoUrl ?? "",
          });
        }
        if (verb === "delete" && project) {
          // `/projects delete x` asks first; the same command again within the confirmation's words deletes.
          const confirmed = rest[0] ?? (await confirmedBefore(ctx, key, event, project));
          const { project: p, unbound } = await ops.deleteProject(user.id, project, confirmed);
          return ctx.say(key, event, "projectDeleted", { project: p.name, unbound });
        }
        return ctx.say(key, event, "projectsUsage");
      }
    }
  } catch (error) {
    if (error instanceof ProjectError) return ctx.say(key, event, error.key, error.params);
    ctx.deps.logger.warn({ err: error, command: name }, "project command failed");
    return ctx.say(key, event, "vmFailed", { error: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * Deleting a project is asked twice: the first `/projects delete x` records the question (for 5 minutes)
 * and is answered with what would be lost; the same command from the same person again (another message) confirms it.
 */
async function confirmedBefore(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  project: string,
): Promise<string> {
  const state = ctx.deps.store.transportState;
  const askKey = `confirm-delete:${event.conversation.key}:${event.platform}:${event.sender.platformUserId}`;
  const asked = await state.get<{ project: string; at: number; key: string }>(askKey);
  // The asking command itself, replayed after a crash, is not its own confirmation.
  if (asked?.key === key) return "";
  if (asked && asked.project === project && ctx.now() - asked.at < 5 * 60_000) {
    await state.delete(askKey);
    return project;
  }
  await state.set(askKey, { project, at: ctx.now(), key });
  return "";
}
