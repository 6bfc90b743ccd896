import { createHmac, randomBytes } from "node:crypto";
import { jsonBody, type SignedRequest } from "./common.ts";

export type { SignedRequest } from "./common.ts";

/**
 * Builders for Slack webhook requests: payloads shaped like the platform's (Events API envelopes,
 * `block_actions`, slash commands), signed like Slack signs them (v0 HMAC over `v0:<ts>:<body>`). Every
 * builder takes overrides; ids are unique per call (and, with high probability, across processes) so that
 * dedupe never collapses two built events.
 */

export const SLACK_TEST_SIGNING_SECRET = "test_slack_signing_secret";
export const SLACK_TEST_TEAM_ID = "T0TESTTEAM";
export const SLACK_TEST_APP_ID = "A0TESTAPP";
/** The bot user named in every envelope's `authorizations[]`. */
export const SLACK_TEST_BOT_USER_ID = "U0TESTBOT";
export const SLACK_TEST_USER_ID = "U0TESTUSER";
export const SLACK_TEST_CHANNEL_ID = "C0TESTCHAN";
export const SLACK_TEST_DM_CHANNEL_ID = "D0TESTDM";

export interface SlackSignOptions {
  readonly secret?: string;
  /** Unix seconds for `X-Slack-Request-Timestamp`; default now. */
  readonly timestamp?: number;
  /** `null` leaves `X-Slack-Signature` out; a string replaces it. */
  readonly signature?: string | null;
}

export const SLACK_JSON = "application/json";
export const SLACK_FORM = "application/x-www-form-urlencoded";

/** `v0=` + hex HMAC-SHA256(secret, `v0:<timestamp>:<body>`). */
export function slackSignature(
  body: string,
  timestamp: number | string,
  secret: string = SLACK_TEST_SIGNING_SECRET,
): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** Signs an exact body (for raw or fuzzed bodies) sent with the given content type. */
export function signedSlackBody(
  body: string,
  contentType: string,
  options: SlackSignOptions = {},
): SignedRequest {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    options.signature === undefined ? slackSignature(body, timestamp, options.secret) : options.signature;
  const headers: Record<string, string> = {
    "content-type": contentType,
    "x-slack-request-timestamp": String(timestamp),
  };
  if (signature !== null) headers["x-slack-signature"] = signature;
  return { headers, body };
}

/** An Events API request (JSON). A string payload is sent as is. */
export function signedSlackEvent(payload: unknown, options: SlackSignOptions = {}): SignedRequest {
  return signedSlackBody(jsonBody(payload), SLACK_JSON, options);
}

/** An interactivity request: form-encoded `payload=<json>`. A string payload is the JSON as is. */
export function signedSlackInteraction(payload: unknown, options: SlackSignOptions = {}): SignedRequest {
  return signedSlackBody(new URLSearchParams({ payload: jsonBody(payload) }).toString(), SLACK_FORM, options);
}

/** A slash command request: the fields form-encoded. */
export function signedSlackCommand(
  fields: Record<string, string>,
  options: SlackSignOptions = {},
): SignedRequest {
  return signedSlackBody(new URLSearchParams(fields).toString(), SLACK_FORM, options);
}

// ---- Events API payloads

export interface SlackTestMessage {
  type: "message" | "app_mention";
  channel: string;
  user: string;
  text: string;
  ts: string;
  event_ts: string;
  channel_type?: string;
  thread_ts?: string;
  subtype?: string;
  bot_id?: string;
  team?: string;
  files?: object[];
  [field: string]: unknown;
}

export interface SlackTestEnvelope {
  type: "event_callback";
  token: string;
  team_id: string;
  api_app_id: string;
  event_id: string;
  event_time: number;
  authorizations: { enterprise_id: null; team_id: string; user_id: string; is_bot: boolean }[];
  event: SlackTestMessage;
  [field: string]: unknown;
}

/**
 * Overrides for a builder; `undefined` removes a field (JSON drops it), to build malformed payloads. The
 * result keeps the nominal type for convenience even when an override has broken it.
 */
export type Overrides<T> = { [K in keyof T]?: T[K] | undefined };

/** Wraps an event in an `event_callback` envelope authorised for the test bot. */
export function slackEnvelope(
  event: SlackTestMessage,
  overrides: Overrides<SlackTestEnvelope> = {},
): SlackTestEnvelope {
  const n = next();
  return {
    type: "event_callback",
    token: "legacy-verification-token",
    team_id: SLACK_TEST_TEAM_ID,
    api_app_id: SLACK_TEST_APP_ID,
    event_id: `Ev${tag}${n}`,
    event_time: Number(event.ts.split(".")[0]),
    authorizations: [
      { enterprise_id: null, team_id: SLACK_TEST_TEAM_ID, user_id: SLACK_TEST_BOT_USER_ID, is_bot: true },
    ],
    event,
    ...overrides,
  } as SlackTestEnvelope;
}

/** A top-level channel message from a person (`message.channels`). */
export function slackMessageEvent(
  event: Overrides<SlackTestMessage> = {},
  envelope: Overrides<SlackTestEnvelope> = {},
): SlackTestEnvelope {
  return personEvent({ type: "message", channel_type: "channel", text: "hello", ...event }, envelope);
}

/** A message in the bot's DM (`message.im`). */
export function slackDirectMessage(
  event: Overrides<SlackTestMessage> = {},
  envelope: Overrides<SlackTestEnvelope> = {},
): SlackTestEnvelope {
  return slackMessageEvent({ channel: SLACK_TEST_DM_CHANNEL_ID, channel_type: "im", ...event }, envelope);
}

/** An `app_mention` (no `channel_type`, text starting with the bot mention). */
export function slackAppMention(
  event: Overrides<SlackTestMessage> = {},
  envelope: Overrides<SlackTestEnvelope> = {},
): SlackTestEnvelope {
  return personEvent({ type: "app_mention", text: `<@${SLACK_TEST_BOT_USER_ID}> hello`, ...event }, envelope);
}

/** An event from the test user in the test channel, with a fresh ts unless `event` gives one. */
function personEvent(
  event: Overrides<SlackTestMessage>,
  envelope: Overrides<SlackTestEnvelope>,
): SlackTestEnvelope {
  const ts = event.ts ?? uniqueTs();
  const person = { channel: SLACK_TEST_CHANNEL_ID, user: SLACK_TEST_USER_ID, team: SLACK_TEST_TEAM_ID };
  return slackEnvelope({ ...person, ts, event_ts: ts, ...event } as SlackTestMessage, envelope);
}

/** The `app_mention` twin Slack sends for a `message` that mentions the bot: same channel, ts and text. */
export function slackAppMentionTwin(message: SlackTestEnvelope): SlackTestEnvelope {
  const { channel_type: _channelType, ...event } = message.event;
  return slackEnvelope({ ...event, type: "app_mention" });
}

/** A `files[]` entry as Slack sends it on `file_share` messages. */
export function slackFile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const id = `F${tag}${next()}`;
  return {
    id,
    name: "diagram.png",
    title: "diagram.png",
    mimetype: "image/png",
    filetype: "png",
    size: 2048,
    url_private: `https://files.slack.com/files-pri/${SLACK_TEST_TEAM_ID}-${id}/diagram.png`,
    url_private_download: `https://files.slack.com/files-pri/${SLACK_TEST_TEAM_ID}-${id}/download/diagram.png`,
    ...overrides,
  };
}

export function slackUrlVerification(challenge = `challenge-${tag}-${next()}`): Record<string, string> {
  return { token: "legacy-verification-token", challenge, type: "url_verification" };
}

// ---- Interactivity and slash commands

export interface SlackBlockActionOptions {
  readonly actionId?: string;
  readonly value?: string;
  readonly channel?: string;
  /** The ts of the message holding the button. */
  readonly messageTs?: string;
  /** Set when that message is a thread reply. */
  readonly threadTs?: string;
  readonly userId?: string;
  readonly triggerId?: string;
}

/** A `block_actions` payload for a button click on a bot message. */
export function slackBlockAction(options: SlackBlockActionOptions = {}): Record<string, unknown> {
  const channel = options.channel ?? SLACK_TEST_CHANNEL_ID;
  const messageTs = options.messageTs ?? uniqueTs();
  const thread = options.threadTs === undefined ? {} : { thread_ts: options.threadTs };
  return {
    type: "block_actions",
    user: {
      id: options.userId ?? SLACK_TEST_USER_ID,
      username: "mei",
      name: "mei",
      team_id: SLACK_TEST_TEAM_ID,
    },
    api_app_id: SLACK_TEST_APP_ID,
    token: "legacy-verification-token",
    container: {
      type: "message",
      message_ts: messageTs,
      channel_id: channel,
      is_ephemeral: false,
      ...thread,
    },
    trigger_id: options.triggerId ?? triggerId(),
    team: { id: SLACK_TEST_TEAM_ID, domain: "testteam" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: "general" },
    message: { type: "message", user: SLACK_TEST_BOT_USER_ID, ts: messageTs, text: "Allow Bash?", ...thread },
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${SLACK_TEST_TEAM_ID}/${next()}/${tag}`,
    actions: [
      {
        action_id: options.actionId ?? "approve",
        block_id: `b${next()}`,
        text: { type: "plain_text", text: "Approve", emoji: true },
        value: options.value ?? `approval-${tag}-${next()}`,
        style: "primary",
        type: "button",
        action_ts: uniqueTs(),
      },
    ],
  };
}

/** An interactive payload of another type (`view_submission`, `shortcut`…), which we ignore. */
export function slackInteraction(
  type: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type,
    team: { id: SLACK_TEST_TEAM_ID, domain: "testteam" },
    user: { id: SLACK_TEST_USER_ID, username: "mei", team_id: SLACK_TEST_TEAM_ID },
    api_app_id: SLACK_TEST_APP_ID,
    token: "legacy-verification-token",
    trigger_id: triggerId(),
    ...fields,
  };
}

/** The form fields of a slash command (the Socket Mode `slash_commands` payload has the same fields). */
export function slackSlashCommand(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    token: "legacy-verification-token",
    team_id: SLACK_TEST_TEAM_ID,
    team_domain: "testteam",
    channel_id: SLACK_TEST_CHANNEL_ID,
    channel_name: "general",
    user_id: SLACK_TEST_USER_ID,
    user_name: "mei",
    command: "/claude",
    text: "summarise the last deploy",
    api_app_id: SLACK_TEST_APP_ID,
    is_enterprise_install: "false",
    response_url: `https://hooks.slack.com/commands/${SLACK_TEST_TEAM_ID}/${next()}/${tag}`,
    trigger_id: triggerId(),
    ...overrides,
  };
}

// ---- Ids

let counter = 0;
/** Six digits that differ between processes, so parallel test files do not share ids. */
const tag = String(randomBytes(4).readUInt32BE(0) % 1_000_000).padStart(6, "0");

function next(): number {
  counter += 1;
  return counter;
}

/** A message ts unique per call: the counter in the seconds, the process tag in the fraction. */
export function uniqueTs(): string {
  return `${1_700_000_000 + next()}.${tag}`;
}

function triggerId(): string {
  return `${next()}.${tag}.${randomBytes(8).toString("hex")}`;
}
