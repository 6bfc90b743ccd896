import { z } from "zod";
import type { Attachment, ConversationRef, InboundEvent } from "../event.ts";
import {
  attachment,
  attachmentKind,
  commandName,
  guardedParse,
  MalformedPayload,
  must,
  required,
  stripBotMentions,
} from "./payload.ts";
import type { ParseOutcome } from "./types.ts";

/**
 * Normalisation of authenticated Slack payloads, shared by the HTTP webhook and Socket Mode (whose envelope
 * `type` is the `kind` here and whose `payload` is the same object the webhook decodes), so both produce
 * identical events and dedupe keys.
 *
 * Rules:
 * - Events API: only `message` (no subtype, `file_share`, `thread_broadcast`) and `app_mention` become
 *   events; every other event type or subtype (edits, deletions, joins, bot_message…) is ignored. Messages
 *   from bots (a `bot_id`, or `user` equal to a bot user id in the envelope's `authorizations[]`) are
 *   dropped so that the bot never answers itself or another bot.
 * - One message arrives twice (`message` and `app_mention`, different `event_id`s): both give eventId
 *   `msg:<channel>:<ts>`, the same text (bot mentions stripped) and the same `addressedToBot`, because a
 *   `message` that mentions the bot (found through `authorizations[]`) counts as addressed.
 * - Interactivity: `block_actions` on a message become one `action` event per action; actions outside a
 *   channel (App Home, modals) and every other interactive type (view_submission, shortcuts…) are ignored.
 * - Slash commands become a `command` event keyed `command:<trigger_id>`, named without the slash and in
 *   lower case (`/Claude` → `claude`), as on Discord.
 * - Only what we read is validated; a broken field we need makes the whole payload malformed.
 */
export type SlackPayloadKind = "events_api" | "interactive" | "slash_commands";

export interface SlackParseContext {
  readonly receivedAt: number;
}

export function parseSlackPayload(
  kind: SlackPayloadKind,
  payload: unknown,
  ctx: SlackParseContext,
): ParseOutcome {
  return guardedParse(payload, () => {
    switch (kind) {
      case "events_api":
        return parseEventsApi(payload, ctx);
      case "interactive":
        return parseInteractive(payload, ctx);
      case "slash_commands":
        return [parseSlashCommand(payload, ctx)];
      default:
        throw new MalformedPayload(`unknown payload kind ${String(kind)}`);
    }
  });
}

// ---- Events API

const slackTs = z.string().regex(/^\d{1,12}(\.\d{1,9})?$/, "not a Slack ts");
const slackId = z.string().min(1);

const EnvelopeHead = z.object({ type: z.string() });

const EventCallback = z.object({
  type: z.literal("event_callback"),
  team_id: slackId.optional(),
  event_id: slackId,
  authorizations: z
    .array(z.object({ user_id: z.string().optional(), is_bot: z.boolean().optional() }))
    .optional(),
  event: z.object({ type: z.string() }).loose(),
});

/** Just enough to decide whether a message event is one we keep, before requiring a human sender. */
const MessageHead = z.object({
  subtype: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().nullish(),
});

const SlackFile = z.object({
  id: slackId,
  name: z.string().nullish(),
  mimetype: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  url_private: z.string().optional(),
  url_private_download: z.string().optional(),
});

const MessageEvent = z.object({
  channel: slackId,
  channel_type: z.string().optional(),
  user: slackId,
  text: z.string().optional(),
  ts: slackTs,
  thread_ts: slackTs.optional(),
  team: slackId.optional(),
  files: z.array(SlackFile).optional(),
});

const KEPT_SUBTYPES: ReadonlySet<string> = new Set(["file_share", "thread_broadcast"]);

type Envelope = z.output<typeof EventCallback>;

function parseEventsApi(payload: unknown, ctx: SlackParseContext): InboundEvent[] {
  if (must(EnvelopeHead, payload, "envelope").type !== "event_callback") return [];
  const envelope = must(EventCallback, payload, "event_callback");
  const type = envelope.event.type;
  if (type !== "message" && type !== "app_mention") return [];
  const message = parseMessage(envelope, payload, ctx);
  return message === undefined ? [] : [message];
}

function parseMessage(
  envelope: Envelope,
  payload: unknown,
  ctx: SlackParseContext,
): InboundEvent | undefined {
  const head = must(MessageHead, envelope.event, "event");
  if (head.subtype !== undefined && !KEPT_SUBTYPES.has(head.subtype)) return undefined;
  const botIds = botUserIds(envelope);
  if (isFromBot(head, botIds)) return undefined;

  const event = must(MessageEvent, envelope.event, "event");
  const teamId = required(envelope.team_id ?? event.team, "team id");
  const mention = stripBotMentions(event.text ?? "", USER_MENTION, (id) => botIds.has(id));
  const place = slackPlace(teamId, event.channel, event.channel_type, event.ts, event.thread_ts);
  return {
    platform: "slack",
    eventId: `msg:${event.channel}:${event.ts}`,
    conversation: place.conversation,
    sender: { platformUserId: event.user },
    occurredAt: tsToMillis(event.ts),
    receivedAt: ctx.receivedAt,
    addressedToBot:
      place.conversation.kind === "dm" || envelope.event.type === "app_mention" || mention.found,
    content: { type: "message", text: mention.text, attachments: (event.files ?? []).map(toAttachment) },
    reply: { platform: "slack", teamId, channel: event.channel, ...place.reply, messageTs: event.ts },
    raw: withoutSecrets(payload),
  };
}

function botUserIds(envelope: Envelope): ReadonlySet<string> {
  const ids = new Set<string>();
  for (const authorization of envelope.authorizations ?? []) {
    if (authorization.is_bot === true && authorization.user_id !== undefined) ids.add(authorization.user_id);
  }
  return ids;
}

function isFromBot(head: z.output<typeof MessageHead>, botIds: ReadonlySet<string>): boolean {
  return (
    (head.bot_id !== undefined && head.bot_id !== null) || (head.user !== undefined && botIds.has(head.user))
  );
}

/** `<@U123>` or the legacy `<@U123|name>`, with the blanks after it so that removal leaves no double space. */
const USER_MENTION = /<@([A-Z0-9]+)(?:\|[^>]*)?>[ \t]*/gi;

function toAttachment(file: z.output<typeof SlackFile>): Attachment {
  const ref = file.url_private_download ?? file.url_private ?? file.id;
  return attachment(attachmentKind(file.mimetype), ref, {
    name: file.name,
    mimeType: file.mimetype,
    sizeBytes: file.size,
  });
}

// ---- Interactivity

const InteractiveHead = z.object({ type: z.string() });

const BlockActions = z.object({
  type: z.literal("block_actions"),
  trigger_id: slackId,
  response_url: z.string().optional(),
  team: z.object({ id: slackId }).nullish(),
  user: z.object({
    id: slackId,
    username: z.string().optional(),
    name: z.string().optional(),
    team_id: z.string().optional(),
  }),
  channel: z.object({ id: slackId }).optional(),
  container: z
    .object({
      channel_id: z.string().optional(),
      message_ts: slackTs.optional(),
      thread_ts: slackTs.optional(),
    })
    .optional(),
  message: z.object({ ts: slackTs, thread_ts: slackTs.optional() }).optional(),
  actions: z.array(
    z.object({
      action_id: slackId,
      value: z.string().optional(),
      selected_option: z.object({ value: z.string() }).nullish(),
      action_ts: slackTs.optional(),
    }),
  ),
});

function parseInteractive(payload: unknown, ctx: SlackParseContext): InboundEvent[] {
  if (must(InteractiveHead, payload, "interactive payload").type !== "block_actions") return [];
  const click = must(BlockActions, payload, "block_actions");
  const channel = click.channel?.id ?? click.container?.channel_id;
  const messageTs = click.message?.ts ?? click.container?.message_ts;
  if (channel === undefined || messageTs === undefined) return [];

  const teamId = required(click.team?.id ?? click.user.team_id, "team id");
  const threadTs = click.message?.thread_ts ?? click.container?.thread_ts;
  const place = slackPlace(teamId, channel, undefined, messageTs, threadTs);
  const displayName = click.user.username ?? click.user.name;
  return click.actions.map((action) => ({
    platform: "slack",
    // trigger_id is unique per click and identical on a redelivery of that click; the action id tells
    // apart the (in practice single) actions one click reports.
    eventId: `action:${click.trigger_id}:${action.action_id}`,
    conversation: place.conversation,
    sender: { platformUserId: click.user.id, ...(displayName === undefined ? {} : { displayName }) },
    occurredAt: action.action_ts === undefined ? ctx.receivedAt : tsToMillis(action.action_ts),
    receivedAt: ctx.receivedAt,
    addressedToBot: true,
    content: {
      type: "action",
      actionId: action.action_id,
      value: action.value ?? action.selected_option?.value ?? "",
    },
    reply: {
      platform: "slack",
      teamId,
      channel,
      ...place.reply,
      messageTs,
      ...(click.response_url === undefined ? {} : { responseUrl: click.response_url }),
      triggerId: click.trigger_id,
    },
    raw: withoutSecrets(payload),
  }));
}

// ---- Slash commands

const SlashCommand = z.object({
  command: slackId,
  text: z.string().optional(),
  user_id: slackId,
  user_name: z.string().optional(),
  channel_id: slackId,
  team_id: slackId,
  response_url: z.string().optional(),
  trigger_id: slackId,
});

function parseSlashCommand(payload: unknown, ctx: SlackParseContext): InboundEvent {
  const command = must(SlashCommand, payload, "slash command");
  const dm = isDmChannel(command.channel_id);
  return {
    platform: "slack",
    eventId: `command:${command.trigger_id}`,
    conversation: { key: `slack:${command.team_id}:${command.channel_id}`, kind: dm ? "dm" : "group" },
    sender: {
      platformUserId: command.user_id,
      ...(command.user_name === undefined ? {} : { displayName: command.user_name }),
    },
    occurredAt: ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    addressedToBot: true,
    content: { type: "command", command: commandName(command.command), text: (command.text ?? "").trim() },
    reply: {
      platform: "slack",
      teamId: command.team_id,
      channel: command.channel_id,
      ...(command.response_url === undefined ? {} : { responseUrl: command.response_url }),
      triggerId: command.trigger_id,
    },
    raw: withoutSecrets(payload),
  };
}

// ---- Conversations

interface SlackPlace {
  readonly conversation: ConversationRef;
  readonly reply: { readonly threadTs?: string };
}

/**
 * Where a message (or the message holding a clicked button) lives. In channels every top-level message
 * starts a thread and we answer in it, so the key is `slack:<team>:<channel>:<thread_ts ?? ts>`. In DMs
 * people do not thread: the DM itself is the conversation (`slack:<team>:<channel>`) and we answer at top
 * level, unless the message is inside a thread, which then is its own conversation.
 * Without `channel_type` (app_mention, interactivity) a DM is recognised by its `D…` channel id.
 */
function slackPlace(
  teamId: string,
  channel: string,
  channelType: string | undefined,
  ts: string,
  threadTs: string | undefined,
): SlackPlace {
  const dm = channelType === undefined ? isDmChannel(channel) : channelType === "im";
  if (dm) {
    return {
      conversation: {
        key: `slack:${teamId}:${channel}${threadTs === undefined ? "" : `:${threadTs}`}`,
        kind: "dm",
      },
      reply: threadTs === undefined ? {} : { threadTs },
    };
  }
  const thread = threadTs ?? ts;
  return {
    conversation: { key: `slack:${teamId}:${channel}:${thread}`, kind: "group" },
    reply: { threadTs: thread },
  };
}

function isDmChannel(channel: string): boolean {
  return channel.startsWith("D");
}

/** `"1700000001.123456"` → 1700000001123, without floating-point rounding. */
function tsToMillis(ts: string): number {
  const [seconds = "0", fraction = ""] = ts.split(".");
  return Number(seconds) * 1000 + Number(fraction.padEnd(3, "0").slice(0, 3));
}

// ---- Credentials

/** The legacy verification token and workflow tokens are credentials; `raw` is stored, so they go. */
function withoutSecrets(payload: unknown): unknown {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return payload;
  const { token: _token, bot_access_token: _botToken, ...rest } = payload as Record<string, unknown>;
  return rest;
}
