import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { mayAllowForChat } from "../agent/switchboard-tools.ts";
import type { ReplyButton } from "../delivery/port.ts";
import type { InboxItem } from "../inbox/index.ts";
import type { KeyValueRepository, User } from "../store/index.ts";
import type { Database } from "../store/schema.ts";
import { projectIdOf } from "../vm/names.ts";
import type { PendingApproval, RouterContext } from "./context.ts";
import { type Language, type MessageKey, message } from "./messages.ts";
import { enqueueReply } from "./replies.ts";
import { TOOL_RESULT_PREFIX } from "./switchboard-tools.ts";

/**
 * Who may answer a tool request: the person whose turn asked, and on a project's VM also its owner and
 * members (the people of a bound chat work on the project together).
 */
export async function mayAnswer(
  ctx: RouterContext,
  approval: { readonly userId: string; readonly agent: string },
  userId: string,
): Promise<boolean> {
  if (approval.userId === userId) return true;
  const projectId = projectIdOf(approval.agent);
  return projectId !== undefined && (await ctx.deps.store.projects.mayUse(projectId, userId));
}

/**
 * Tool approvals by button, and the per-conversation settings around them. Every button carries a
 * single-use token (`approve:<token>`, `approve:<token> always`, `deny:<token>`) that names one permission
 * request; the token, the decision and the conversation's standing approvals live in the store, so a tap
 * after a restart of any process is still understood. A second tap, a stale tap (LINE buttons can never be
 * removed) or another person's tap is answered to that person alone and changes nothing.
 */

interface ButtonToken {
  readonly requestId: string;
  readonly agent: string;
  readonly conversationKey: string;
  /** The person whose turn asked (on a project's VM its owner and members may answer too: `mayAnswer`). */
  readonly userId: string;
  readonly tool: string;
  readonly createdAt: number;
}

export interface Decision {
  readonly allow: boolean;
  readonly by: string;
  readonly at: number;
  readonly scope: "once" | "conversation";
}

const tokenKey = (token: string) => `approval-token:${token}`;
const decisionKey = (requestId: string) => `approval-decision:${requestId}`;
const alwaysKey = (conversationKey: string) => `approval-always:${conversationKey}`;
const verboseKey = (conversationKey: string) => `verbose:${conversationKey}`;
/** Button tokens and decisions are kept this long (a late tap is still answered), then purged. */
export const APPROVAL_STATE_TTL_MS = 2 * 24 * 60 * 60_000;

/** Standing approvals of a conversation: per person and agent (`<userId> <agent>`), the tools allowed. */
type StandingApprovals = Record<string, string[]>;
/** What a standing approval is about: a tool, for one person and agent, in one conversation. */
interface Standing {
  readonly conversationKey: string;
  readonly userId: string;
  readonly agent: string;
  readonly tool: string;
}
const standingKey = (a: { userId: string; agent: string }) => `${a.userId} ${a.agent}`;

/** The three buttons under a permission request, in the language of the person asked. */
export async function approvalButtons(
  ctx: RouterContext,
  approval: PendingApproval,
  language: Language,
): Promise<ReplyButton[]> {
  const token = randomBytes(9).toString("base64url");
  const record: ButtonToken = {
    requestId: approval.requestId,
    agent: approval.agent,
    conversationKey: approval.conversationKey,
    userId: approval.userId,
    tool: approval.tool,
    createdAt: ctx.now(),
  };
  await ctx.deps.store.transportState.set(tokenKey(token), record);
  return [
    { label: message(language, "buttonAllowOnce"), value: `approve:${token}`, style: "primary" },
    ...(mayAllowForChat(approval.tool)
      ? [{ label: message(language, "buttonAllowConversation"), value: `approve:${token} always` }]
      : []),
    { label: message(language, "buttonDeny"), value: `deny:${token}`, style: "danger" },
  ];
}

export async function decisionOf(ctx: RouterContext, requestId: string): Promise<Decision | undefined> {
  return ctx.deps.store.transportState.get<Decision>(decisionKey(requestId));
}

/** Records the decision unless one exists; resolves false when the request was already decided. */
export async function recordDecision(
  ctx: RouterContext,
  requestId: string,
  decision: Decision,
): Promise<boolean> {
  if (await decisionOf(ctx, requestId)) return false;
  await ctx.deps.store.transportState.set(decisionKey(requestId), decision);
  return true;
}

/**
 * Whether the person whose turn asked allowed this tool "in this chat" earlier, for the same agent. Someone
 * else's standing approval in a shared group never answers for them.
 */
export async function hasStandingApproval(state: KeyValueRepository, approval: Standing): Promise<boolean> {
  if (!mayAllowForChat(approval.tool)) return false;
  const all = await state.get<StandingApprovals>(alwaysKey(approval.conversationKey));
  const tools = all && !Array.isArray(all) ? all[standingKey(approval)] : undefined;
  return tools?.includes(approval.tool) ?? false;
}

/** "Allow in this chat": later requests for the tool by the same person and agent are answered at once. */
export async function allowInConversation(state: KeyValueRepository, approval: Standing): Promise<void> {
  if (!mayAllowForChat(approval.tool)) return;
  const key = alwaysKey(approval.conversationKey);
  const stored = await state.get<StandingApprovals>(key);
  const all = stored && !Array.isArray(stored) ? stored : {};
  const tools = all[standingKey(approval)] ?? [];
  if (!tools.includes(approval.tool))
    await state.set(key, { ...all, [standingKey(approval)]: [...tools, approval.tool] });
}

/** Forgets every standing approval of the conversation (`/new`: a new session starts with none). */
export async function clearStandingApprovals(
  state: KeyValueRepository,
  conversationKey: string,
): Promise<void> {
  await state.delete(alwaysKey(conversationKey));
}

/**
 * Deletes button tokens, decisions and switchboard tools' results (kept to answer a replayed call) older
 * than `ttlMs`, so they do not accumulate. Runs with the store's other purges.
 */
export async function purgeApprovalState(
  db: Kysely<Database>,
  ttlMs = APPROVAL_STATE_TTL_MS,
  now = Date.now(),
): Promise<number> {
  const result = await db
    .deleteFrom("transport_state")
    .where((eb) =>
      eb.or([
        eb("key", "like", "approval-token:%"),
        eb("key", "like", "approval-decision:%"),
        eb("key", "like", `${TOOL_RESULT_PREFIX}%`),
      ]),
    )
    .where("updated_at", "<", now - ttlMs)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function isVerbose(ctx: RouterContext, conversationKey: string): Promise<boolean> {
  return (await ctx.deps.store.transportState.get<boolean>(verboseKey(conversationKey))) === true;
}

export async function setVerbose(ctx: RouterContext, conversationKey: string, on: boolean): Promise<void> {
  await ctx.deps.store.transportState.set(verboseKey(conversationKey), on);
}

/**
 * A button press answering a permission request. Resolves false when the item is not a button press (a
 * typed /approve, handled by the caller).
 */
export async function handleApprovalButton(
  ctx: RouterContext,
  item: InboxItem,
  verb: "approve" | "deny",
  args: string,
  user: User,
): Promise<boolean> {
  const event = item.event;
  if (event.content.type !== "action") return false;
  const [token = "", scope] = args.trim().split(/\s+/);
  const language = ctx.language(event);
  const target = {
    platform: event.platform,
    conversationKey: event.conversation.key,
    reply: event.reply,
    inboundReceivedAt: event.receivedAt,
  };
  const notice = (key: MessageKey, params: Record<string, string> = {}) =>
    enqueueReply(ctx, target, `cmd:${item.id}`, message(language, key, params), {
      noticeFor: event.sender.platformUserId,
      followup: true,
    });
  const info = token ? await ctx.deps.store.transportState.get<ButtonToken>(tokenKey(token)) : undefined;
  if (!info || info.conversationKey !== event.conversation.key) {
    await notice("approvalStale");
    return true;
  }
  if (!(await mayAnswer(ctx, info, user.id))) {
    await notice("approvalNotYours");
    return true;
  }
  const earlier = await decisionOf(ctx, info.requestId);
  if (earlier) {
    await notice(earlier.allow ? "approvalAlreadyAllowed" : "approvalAlreadyDenied", { by: earlier.by });
    return true;
  }
  const waiting = await ctx.waitingApprovals(event.conversation.key);
  if (!waiting.some((a) => a.requestId === info.requestId)) {
    await notice("approvalStale");
    return true;
  }
  const allow = verb === "approve";
  const by = event.sender.displayName ?? event.sender.platformUserId;
  const forConversation = allow && scope === "always" && mayAllowForChat(info.tool);
  const decided = await recordDecision(ctx, info.requestId, {
    allow,
    by,
    at: ctx.now(),
    scope: forConversation ? "conversation" : "once",
  });
  if (!decided) {
    // Another tap (or a typed /approve) got there first.
    const first = await decisionOf(ctx, info.requestId);
    await notice(first?.allow === false ? "approvalAlreadyDenied" : "approvalAlreadyAllowed", {
      by: first?.by ?? "",
    });
    return true;
  }
  if (forConversation) await allowInConversation(ctx.deps.store.transportState, info);
  // The daemon answers with permission_resolved, which posts "approved/denied by …" for everyone.
  await ctx.connection(info.agent, info.userId).send({
    type: "permission",
    requestId: info.requestId,
    allow,
    by,
  });
  // Telegram shows a spinner on the button until the press is answered.
  if (event.platform === "telegram") await notice(allow ? "approvalAllowedToast" : "approvalDeniedToast");
  return true;
}
