import { hasClaudeCredential, mayInvite, standingOf, standingOfUser } from "../identity/access.ts";
import {
  CONNECT_TTL_MS,
  connectId,
  humanCode,
  INVITE_TTL_MS,
  LINK_TTL_MS,
  normalizeCode,
} from "../identity/codes.ts";
import type { ConnectCodeData, LinkCodeData } from "../identity/connect-data.ts";
import type { InboundEvent } from "../ingress/event.ts";
import { PLATFORMS, type Platform, type User } from "../store/index.ts";
import { type CommandName, classify } from "./classify.ts";
import { type RouterContext, replyTo } from "./context.ts";
import { type MessageKey, message } from "./messages.ts";

type IdentityCommand = Extract<
  CommandName,
  "connect" | "link" | "unlink" | "invite" | "join" | "pasted_secret"
>;

/**
 * People and their keys from chat: `/connect` (a one-time link to the page where a credential is pasted),
 * `/link` (join accounts on several platforms), `/unlink`, `/invite` and `/join`. Anything that hands out a
 * code someone could misuse (a /connect link, a /link code) is only ever posted in a private chat.
 */
export async function runIdentityCommand(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  user: User,
  name: IdentityCommand,
  args: string,
): Promise<void> {
  const { store, agents } = ctx.deps;
  switch (name) {
    case "pasted_secret": {
      // The message itself is never passed on, and deleted where the platform lets a bot do that.
      // Group chatter not meant for the bot is not answered either: only DMs, messages to the bot, and
      // chats bound to a project (where everything said is for Claude).
      const spoken =
        event.addressedToBot ||
        event.conversation.kind === "dm" ||
        (await store.projects.bindingOf(event.conversation.key)) !== undefined;
      if (!spoken) return;
      const deleted = (await ctx.deps.deleteInbound?.(event).catch(() => false)) === true;
      return ctx.say(key, event, "secretPasted", { deleted: deleted ? "yes" : "no" });
    }
    case "connect":
      return offerConnect(ctx, key, event, user);
    case "link": {
      const typed = normalizeCode(args);
      if (typed === "") {
        if (event.conversation.kind !== "dm") return ctx.say(key, event, "linkInGroup");
        // Only an admitted account hands out codes: the new account joins it, not the other way round.
        if (!(await standingOfUser(store, agents, user)).member) return ctx.say(key, event, "linkInvalid");
        // Idempotent per inbox item: a retried item must not mint a second code nobody sees.
        if (await ctx.deps.outbox.has(key)) return;
        await store.codes.revoke(user.id, "link");
        const code = humanCode(12);
        const data: LinkCodeData = {
          conversationKey: event.conversation.key,
          reply: replyTo(event, ctx.language(event)),
        };
        await store.codes.create({
          code: normalizeCode(code),
          purpose: "link",
          userId: user.id,
          ttlMs: LINK_TTL_MS,
          data,
        });
        return sayPrivately(ctx, key, event, "linkCode", { code });
      }
      const redeemed = await store.codes.redeem("link", typed);
      if (!redeemed) return ctx.say(key, event, "linkInvalid");
      if (redeemed.userId === user.id) return ctx.say(key, event, "linkAlready");
      const target = await store.users.get(redeemed.userId);
      if (!target) return ctx.say(key, event, "linkInvalid");
      const moved = await moveIdentity(ctx, event, target.id);
      if (!moved) return ctx.say(key, event, "linkInvalid");
      const ids = (await store.identities.listForUser(target.id)).map(
        (i) => `${i.platform}:${i.platformUserId}`,
      );
      await tellLinkIssuer(ctx, key, event, redeemed.data as LinkCodeData | undefined);
      return ctx.say(key, event, "linkDone", { list: ids.join(", ") });
    }
    case "unlink": {
      const identities = await store.identities.listForUser(user.id);
      const list = identities.map((i) => `${i.platform}:${i.platformUserId}`);
      const wanted = args.trim();
      if (wanted === "") {
        return identities.length < 2
          ? ctx.say(key, event, "unlinkOnly")
          : ctx.say(key, event, "unlinkList", { list: list.join(", ") });
      }
      if (!list.includes(wanted)) return ctx.say(key, event, "unlinkNotYours", { id: wanted });
      if (identities.length < 2) return ctx.say(key, event, "unlinkOnly");
      const [platform, ...rest] = wanted.split(":");
      await store.identities.unlink(platform as Platform, rest.join(":"));
      return ctx.say(key, event, "unlinkDone", { id: wanted });
    }
    case "invite": {
      const standing = await standingOfUser(store, agents, user);
      if (!mayInvite(standing, agents.access)) return ctx.say(key, event, "inviteNotAllowed");
      if (await ctx.deps.outbox.has(key)) return; // a retried item: the code was minted and posted
      const code = humanCode(12);
      await store.codes.create({
        code: normalizeCode(code),
        purpose: "invite",
        userId: user.id,
        ttlMs: INVITE_TTL_MS,
      });
      return sayPrivately(ctx, key, event, "inviteCode", { code });
    }
    case "join": {
      const standing = await standingOfUser(store, agents, user);
      if (standing.suspended) return ctx.say(key, event, "suspended");
      if (standing.removed) return ctx.say(key, event, "removed", { id: identityOf(event) });
      if (standing.member && standing.access?.status === "active") return ctx.say(key, event, "joinAlready");
      const typed = normalizeCode(args);
      const redeemed = typed === "" ? undefined : await store.codes.redeem("invite", typed);
      if (!redeemed) return ctx.say(key, event, "joinInvalid");
      // The inviter must still be in good standing when the code is used.
      const inviter = await store.users.get(redeemed.userId);
      const inviterStanding = inviter && (await standingOfUser(store, agents, inviter));
      if (!inviterStanding || !mayInvite(inviterStanding, agents.access))
        return ctx.say(key, event, "joinInvalid");
      await store.access.set(user.id, { status: "active", invitedBy: redeemed.userId });
      return ctx.say(key, event, "joinDone");
    }
  }
}

/**
 * Sends the /connect link, in a private chat only: in a group, asks the person to write privately instead.
 * A new link withdraws the person's earlier ones. `lead` is said first (e.g. "You have no credential yet.").
 */
export async function offerConnect(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  user: User,
  lead?: string,
): Promise<void> {
  const language = ctx.language(event);
  const leadText = lead ?? "";
  if (event.conversation.kind !== "dm") return ctx.say(key, event, "connectInGroup", { lead: leadText });
  const { store, agents } = ctx.deps;
  // Idempotent per inbox item: a retried item must not mint a second link nobody sees.
  if (await ctx.deps.outbox.has(key)) return;
  await store.codes.revoke(user.id, "connect");
  const id = connectId();
  const data: ConnectCodeData = {
    conversationKey: event.conversation.key,
    reply: replyTo(event, language),
    account: { platform: event.platform, displayName: event.sender.displayName ?? null },
  };
  await store.codes.create({ code: id, purpose: "connect", userId: user.id, ttlMs: CONNECT_TTL_MS, data });
  await sayPrivately(ctx, key, event, "connectLink", {
    lead: leadText,
    url: `${agents.publicUrl}/connect/${id}`,
  });
}

/**
 * Replies with a message holding a usable code or link (/link, /invite, /connect): marked sensitive, so the
 * outbox overwrites its stored text once it is sent and no usable code stays in the database.
 */
async function sayPrivately(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  msg: MessageKey,
  params: Record<string, string | number>,
): Promise<void> {
  const language = ctx.language(event);
  const to = replyTo(event, language);
  await ctx.deps.outbox.enqueue({
    idempotencyKey: key,
    platform: to.platform,
    conversationKey: event.conversation.key,
    reply: to.reply,
    inboundReceivedAt: to.inboundReceivedAt,
    text: message(language, msg, params),
    extras: { sensitive: true },
  });
  ctx.deps.kickDelivery();
}

/** Tells the chat that issued a /link code that another account just joined through it. */
async function tellLinkIssuer(
  ctx: RouterContext,
  key: string,
  event: InboundEvent,
  data: LinkCodeData | undefined,
): Promise<void> {
  if (!data) return;
  const name = event.sender.displayName ? ` (${event.sender.displayName})` : "";
  await ctx.reply(
    `${key}:link-joined`,
    data.reply,
    data.conversationKey,
    message(data.reply.language, "linkJoined", { id: identityOf(event), name }),
  );
}

function identityOf(event: InboundEvent): string {
  return `${event.platform}:${event.sender.platformUserId}`;
}

/** Moves the sender's identity to `userId` (the /link target). False when it cannot be moved. */
async function moveIdentity(ctx: RouterContext, event: InboundEvent, userId: string): Promise<boolean> {
  const platform = event.platform;
  const platformUserId = event.sender.platformUserId;
  if (!PLATFORMS.includes(platform) || platformUserId === "") return false;
  await ctx.deps.store.identities.move({
    platform,
    platformUserId,
    userId,
    displayName: event.sender.displayName ?? null,
  });
  return true;
}

/**
 * Whether the sender of `event` may have it handled now (RouterContext.isEnabled). Suspended people never;
 * people not admitted only to present a code (/join, /link <code>) or ask for /help; admitted people
 * always for commands, and for messages once a Claude credential serves them (their own, or the server's
 * in operator mode). When refusing with a `replyKey`, tells them why and what to do next.
 */
export async function admit(ctx: RouterContext, event: InboundEvent, replyKey?: string): Promise<boolean> {
  const c = classify(event, { bound: true });
  if (c.kind === "command" && c.name === "pasted_secret") return true; // the warning is for anyone
  const { store, agents } = ctx.deps;
  const id = `${event.platform}:${event.sender.platformUserId}`;
  if (event.sender.platformUserId === "") {
    if (replyKey) await ctx.say(replyKey, event, "notAdmitted", { mode: agents.access, id });
    return false;
  }
  const standing = await standingOf(store, agents, {
    platform: event.platform,
    platformUserId: event.sender.platformUserId,
    displayName: event.sender.displayName ?? null,
  });
  if (standing.suspended) {
    if (replyKey) await ctx.say(replyKey, event, "suspended");
    return false;
  }
  // Removed by an admin: blocked (even in open mode, even with a code) until `users allow` admits them.
  if (standing.removed) {
    if (replyKey) await ctx.say(replyKey, event, "removed", { id });
    return false;
  }
  if (!standing.member) {
    const presentsCode =
      c.kind === "command" &&
      (c.name === "join" || c.name === "help" || (c.name === "link" && c.args !== ""));
    if (presentsCode) return true;
    if (replyKey) await ctx.say(replyKey, event, "notAdmitted", { mode: agents.access, id });
    return false;
  }
  if (c.kind === "command" || c.kind === "unknown_command") return true;
  if (await hasClaudeCredential(store, standing)) return true;
  if (replyKey) {
    await offerConnect(ctx, replyKey, event, standing.user, message(ctx.language(event), "noCredentialYet"));
  }
  return false;
}
