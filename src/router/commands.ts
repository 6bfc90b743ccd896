import type { InboxItem } from "../inbox/index.ts";
import { shortId } from "./agent-events.ts";
import {
  clearStandingApprovals,
  handleApprovalButton,
  isVerbose,
  mayAnswer,
  setVerbose,
} from "./approvals.ts";
import type { CommandName } from "./classify.ts";
import type { RouterContext } from "./context.ts";
import { runIdentityCommand } from "./identity-commands.ts";
import { runProjectCommand } from "./project-commands.ts";
import { runVmCommand, stateDetail } from "./vm-commands.ts";

/**
 * The router's own commands. Each reply's outbox key derives from the inbox item, so handling the same
 * item twice (after a crash) answers once. Every command checks who is asking (DESIGN §3.8): only an
 * enabled person, and for approvals only the owner of the agent that asked.
 */
export async function runCommand(
  ctx: RouterContext,
  item: InboxItem,
  name: CommandName,
  args: string,
): Promise<void> {
  const event = item.event;
  const key = `cmd:${item.id}`;
  const { store, turns, runtime } = ctx.deps;
  const user = await store.identities.resolveUser({
    platform: event.platform,
    platformUserId: event.sender.platformUserId,
    displayName: event.sender.displayName ?? null,
  });
  await ctx.remember(event, user);
  const target = await ctx.targetFor(event, user);
  const { agent } = target;

  switch (name) {
    case "help":
      return ctx.say(key, event, "help");
    case "status": {
      const info = await runtime.inspect(agent);
      const session = await store.conversations.sessionOf(event.conversation.key, agent);
      const running = await turns.open(event.conversation.key);
      const waiting = await ctx.waitingApprovals(event.conversation.key);
      const lang = ctx.language(event);
      const detail = info ? stateDetail(lang, info, ctx.now()) : "";
      return ctx.say(key, event, "status", {
        agent,
        state: `${info?.state ?? "not created"}${detail ? `, ${detail}` : ""}`,
        session: session ?? (lang === "zh-TW" ? "尚無" : "none yet"),
        running: running ? (lang === "zh-TW" ? "是" : "yes") : lang === "zh-TW" ? "否" : "no",
        approvals: waiting.length,
      });
    }
    case "new": {
      if (!target.allowed) return ctx.say(key, event, "notMember", { project: target.project?.name ?? "" });
      await ctx.connection(agent, user.id).send({ type: "forget", conversation: event.conversation.key });
      // A new session starts with no tool allowed "in this chat".
      await clearStandingApprovals(store.transportState, event.conversation.key);
      if (await store.conversations.get(event.conversation.key)) {
        await store.conversations.setAgentSession(event.conversation.key, agent, null);
      }
      return ctx.say(key, event, "newSession");
    }
    case "cancel": {
      const running = await turns.open(event.conversation.key);
      // Only the person whose turn it is (or the project's owner) may stop it.
      const mayCancel = running && (running.userId === user.id || target.project?.ownerUserId === user.id);
      if (!running || !mayCancel) return ctx.say(key, event, "nothingToCancel");
      await ctx
        .connection(running.agent, running.userId)
        .send({ type: "interrupt", conversation: event.conversation.key });
      return ctx.say(key, event, "cancelled");
    }
    case "connect":
    case "link":
    case "unlink":
    case "invite":
    case "join":
    case "pasted_secret":
      return runIdentityCommand(ctx, key, event, user, name, args);
    case "vm":
      return runVmCommand(ctx, key, event, user, args);
    case "projects":
    case "bind":
    case "unbind":
    case "build":
    case "members":
      return runProjectCommand(ctx, key, event, user, name, args);
    case "verbose": {
      const wanted = args.trim().toLowerCase();
      const on = wanted === "" ? !(await isVerbose(ctx, event.conversation.key)) : wanted !== "off";
      await setVerbose(ctx, event.conversation.key, on);
      return ctx.say(key, event, on ? "verboseOn" : "verboseOff");
    }
    case "approve":
    case "deny": {
      // A button press carries a single-use token (approvals.ts); typed commands match a short id below.
      if (await handleApprovalButton(ctx, item, name, args, user)) return;
      const all = await ctx.waitingApprovals(event.conversation.key);
      const allowed = await Promise.all(all.map((a) => mayAnswer(ctx, a, user.id)));
      const waiting = all.filter((_, i) => allowed[i]);
      const wanted = args.trim().toLowerCase();
      const matches = wanted
        ? waiting.filter((a) => shortId(a.requestId).toLowerCase().startsWith(wanted))
        : waiting;
      if (matches.length === 0) return ctx.say(key, event, "noPendingApproval");
      if (matches.length > 1) {
        return ctx.say(key, event, "ambiguousApproval", {
          ids: matches.map((a) => shortId(a.requestId)).join(", "),
        });
      }
      const approval = matches[0];
      if (!approval) return;
      // The daemon answers with permission_resolved, which posts "approved/denied by …" once.
      await ctx.connection(approval.agent, approval.userId).send({
        type: "permission",
        requestId: approval.requestId,
        allow: name === "approve",
        by: event.sender.displayName ?? event.sender.platformUserId,
      });
      return;
    }
  }
}
