import {
  ApplicationCommandOptionType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  MessageType,
} from "discord-api-types/v10";
import { z } from "zod";
import type { Attachment, ConversationRef, EventContent, InboundEvent } from "../event.ts";
import {
  attachment,
  attachmentKind,
  commandName,
  guardedParse,
  must,
  required,
  stripBotMentions,
} from "./payload.ts";
import type { ParseOutcome } from "./types.ts";

/**
 * Normalisation of authenticated Discord payloads: interactions (HTTP endpoint or Gateway
 * INTERACTION_CREATE) and Gateway MESSAGE_CREATE messages.
 *
 * Rules:
 * - Application commands (type 2) become `command` events, component clicks (type 3) `action` events;
 *   PING, autocomplete, modal submits and types Discord adds later produce no event. The command is
 *   `data.name` in lower case, as on Slack (context-menu names such as "Ask Claude" become "ask claude").
 * - A conversation is a channel (`discord:<channel id>`; a thread is its own channel). It is a DM when there
 *   is no guild, except for interactions in a group DM or in a DM between other people (context
 *   PRIVATE_CHANNEL, reachable by user-installed apps), which are groups.
 * - Gateway messages: the bot's own and other bots' messages, webhook posts and system messages (joins,
 *   pins…; only DEFAULT and REPLY are kept) are dropped. A message addresses the bot in a DM, when it
 *   mentions the bot or when it replies to the bot; the bot's mentions are removed from the text.
 * - Only what we read is validated; a broken field we need makes the whole payload malformed.
 */
export interface DiscordParseContext {
  readonly receivedAt: number;
  /**
   * The bot's user id, which for every application created since 2020 is the application id. Interactions
   * carry their own `application_id`, this is only a fallback there.
   */
  readonly applicationId?: string | undefined;
}

/** The body answering an interaction within Discord's 3 s, by interaction type. */
export function discordInteractionResponse(type: number): unknown {
  switch (type) {
    case InteractionType.Ping:
      return { type: InteractionResponseType.Pong };
    case InteractionType.ApplicationCommand:
      // The user sees "thinking…" until we edit @original.
      return { type: InteractionResponseType.DeferredChannelMessageWithSource };
    case InteractionType.ApplicationCommandAutocomplete:
      return { type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices: [] } };
    default:
      // Components, modal submits and future types: acknowledge without changing anything the user sees.
      return { type: InteractionResponseType.DeferredMessageUpdate };
  }
}

// ---- Interactions

const snowflake = z.string().regex(/^\d{1,20}$/, "not a snowflake");

const DiscordUser = z.object({ id: snowflake, username: z.string(), global_name: z.string().nullish() });

const InteractionHead = z.object({ type: z.number().int() });

const Interaction = z.object({
  id: snowflake,
  application_id: snowflake.optional(),
  type: z.number().int(),
  token: z.string().min(1),
  guild_id: snowflake.optional(),
  channel_id: snowflake.optional(),
  channel: z.object({ id: snowflake }).optional(),
  context: z.number().int().optional(),
  member: z.object({ user: DiscordUser }).optional(),
  user: DiscordUser.optional(),
  locale: z.string().optional(),
  message: z.object({ id: snowflake }).optional(),
  data: z.unknown(),
});

const CommandData = z.object({ name: z.string().min(1), options: z.array(z.unknown()).optional() });

const CommandOption = z.object({
  name: z.string(),
  type: z.number().int(),
  value: z.unknown().optional(),
  options: z.array(z.unknown()).optional(),
});

const ComponentData = z.object({ custom_id: z.string(), values: z.array(z.string()).optional() });

type Interaction = z.output<typeof Interaction>;

export function parseDiscordInteraction(body: unknown, ctx: DiscordParseContext): ParseOutcome {
  return guardedParse(body, () => {
    const type = must(InteractionHead, body, "interaction").type;
    if (type !== InteractionType.ApplicationCommand && type !== InteractionType.MessageComponent) return [];
    const interaction = must(Interaction, body, "interaction");
    const content =
      type === InteractionType.ApplicationCommand
        ? commandContent(interaction)
        : componentContent(interaction);
    return [interactionEvent(interaction, content, body, ctx)];
  });
}

function interactionEvent(
  interaction: Interaction,
  content: EventContent,
  raw: unknown,
  ctx: DiscordParseContext,
): InboundEvent {
  const channelId = required(interaction.channel_id ?? interaction.channel?.id, "channel id");
  const user = required(interaction.member?.user ?? interaction.user, "user");
  const applicationId = required(interaction.application_id ?? ctx.applicationId, "application id");
  const dm =
    interaction.guild_id === undefined && interaction.context !== InteractionContextType.PrivateChannel;
  const messageId = interaction.message?.id;
  return {
    platform: "discord",
    eventId: interaction.id,
    conversation: conversation(channelId, dm),
    sender: {
      platformUserId: user.id,
      displayName: user.global_name ?? user.username,
      ...(interaction.locale === undefined ? {} : { locale: interaction.locale }),
    },
    occurredAt: snowflakeMillis(interaction.id),
    receivedAt: ctx.receivedAt,
    addressedToBot: true,
    content,
    reply: {
      platform: "discord",
      channelId,
      ...(interaction.guild_id === undefined ? {} : { guildId: interaction.guild_id }),
      // For a component: the message holding the button, so that it can be edited.
      ...(messageId === undefined ? {} : { messageId }),
      interactionId: interaction.id,
      interactionToken: interaction.token,
      applicationId,
    },
    raw,
  };
}

function commandContent(interaction: Interaction): EventContent {
  const data = must(CommandData, interaction.data, "command data");
  const strings = stringOptions(data.options ?? [], 0);
  const prompt = strings.find((option) => option.name === "prompt");
  const text = prompt?.value ?? strings.map((option) => option.value).join(" ");
  return { type: "command", command: commandName(data.name), text: text.trim() };
}

/** Discord nests options at most twice (subcommand group › subcommand › option). */
const MAX_OPTION_DEPTH = 2;

/** The string options, depth first, through subcommands and subcommand groups. */
function stringOptions(options: readonly unknown[], depth: number): { name: string; value: string }[] {
  const found: { name: string; value: string }[] = [];
  for (const raw of options) {
    const option = must(CommandOption, raw, "command option");
    if (option.type === ApplicationCommandOptionType.String && typeof option.value === "string") {
      found.push({ name: option.name, value: option.value });
    } else if (option.options !== undefined && depth < MAX_OPTION_DEPTH) {
      found.push(...stringOptions(option.options, depth + 1));
    }
  }
  return found;
}

function componentContent(interaction: Interaction): EventContent {
  const data = must(ComponentData, interaction.data, "component data");
  return { type: "action", actionId: data.custom_id, value: data.values?.join(",") ?? data.custom_id };
}

// ---- Gateway messages

const DiscordAttachment = z.object({
  filename: z.string(),
  content_type: z.string().optional(),
  size: z.number().int().nonnegative(),
  url: z.string(),
});

const GatewayMessage = z.object({
  id: snowflake,
  channel_id: snowflake,
  guild_id: snowflake.optional(),
  type: z.number().int().optional(),
  webhook_id: snowflake.optional(),
  author: DiscordUser.extend({ bot: z.boolean().optional() }),
  content: z.string(),
  timestamp: z.iso.datetime({ offset: true }),
  mentions: z.array(z.object({ id: snowflake })).optional(),
  referenced_message: z.object({ author: z.object({ id: snowflake }) }).nullish(),
  attachments: z.array(DiscordAttachment).optional(),
});

type GatewayMessage = z.output<typeof GatewayMessage>;

const KEPT_MESSAGE_TYPES: ReadonlySet<number> = new Set([MessageType.Default, MessageType.Reply]);

/** Normalises the `d` of a Gateway MESSAGE_CREATE dispatch. */
export function parseDiscordGatewayMessage(message: unknown, ctx: DiscordParseContext): ParseOutcome {
  return guardedParse(message, () => {
    const parsed = must(GatewayMessage, message, "message");
    if (!isFromPerson(parsed, ctx.applicationId)) return [];
    return [gatewayEvent(parsed, message, ctx)];
  });
}

function isFromPerson(message: GatewayMessage, botId: string | undefined): boolean {
  if (message.author.bot === true || message.author.id === botId) return false;
  if (message.webhook_id !== undefined) return false;
  return KEPT_MESSAGE_TYPES.has(message.type ?? MessageType.Default);
}

function gatewayEvent(message: GatewayMessage, raw: unknown, ctx: DiscordParseContext): InboundEvent {
  const botId = ctx.applicationId;
  const dm = message.guild_id === undefined;
  const mention = stripBotMentions(message.content, USER_MENTION, (id) => id === botId);
  const addressed =
    dm ||
    mention.found ||
    (botId !== undefined &&
      (message.mentions?.some((user) => user.id === botId) === true ||
        message.referenced_message?.author.id === botId));
  return {
    platform: "discord",
    eventId: message.id,
    conversation: conversation(message.channel_id, dm),
    sender: {
      platformUserId: message.author.id,
      displayName: message.author.global_name ?? message.author.username,
    },
    occurredAt: Date.parse(message.timestamp),
    receivedAt: ctx.receivedAt,
    addressedToBot: addressed,
    content: {
      type: "message",
      text: mention.text,
      attachments: (message.attachments ?? []).map(toAttachment),
    },
    reply: {
      platform: "discord",
      channelId: message.channel_id,
      ...(message.guild_id === undefined ? {} : { guildId: message.guild_id }),
      messageId: message.id,
    },
    raw,
  };
}

/** `<@id>` and the legacy nickname form `<@!id>`, with the blanks after it. */
const USER_MENTION = /<@!?(\d+)>[ \t]*/g;

function toAttachment(file: z.output<typeof DiscordAttachment>): Attachment {
  return attachment(attachmentKind(file.content_type), file.url, {
    name: file.filename,
    mimeType: file.content_type,
    sizeBytes: file.size,
  });
}

// ---- Shared

function conversation(channelId: string, dm: boolean): ConversationRef {
  return { key: `discord:${channelId}`, kind: dm ? "dm" : "group" };
}

const DISCORD_EPOCH_MS = 1_420_070_400_000n;

/** A snowflake's creation time: its top 42 bits are ms since the Discord epoch (2015). */
function snowflakeMillis(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH_MS);
}
