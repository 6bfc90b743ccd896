import { isUpload, type PlatformApis, type Reply } from "./platforms.ts";

/**
 * Slack Web API: messages, ephemeral messages, updates and native streams, with Block Kit limits; external
 * file uploads (`files.getUploadURLExternal`, the upload itself, `files.completeUploadExternal`).
 */
export function serveSlack(
  apis: PlatformApis,
  endpoint: string,
  body: Record<string, unknown>,
  params: Readonly<Record<string, string>> = {},
): Reply {
  const ok = (extra: Record<string, unknown>): Reply => ({ status: 200, body: { ok: true, ...extra } });
  const error = (code: string): Reply => ({ status: 200, body: { ok: false, error: code } });
  const channel = typeof body.channel === "string" ? body.channel : "";
  const text = typeof body.text === "string" ? body.text : "";
  const markdown = typeof body.markdown_text === "string" ? body.markdown_text : "";
  const threadTs = typeof body.thread_ts === "string" ? body.thread_ts : undefined;
  const newTs = () => `${Math.floor(Date.now() / 1000)}.${String(++apis.ids).padStart(6, "0")}`;
  const find = () => apis.messages.find((m) => m.platform === "slack" && m.id === body.ts);
  const blocksError = slackBlocksError(body.blocks);
  if (blocksError) return error(blocksError);
  const buttons = slackButtons(body.blocks);
  switch (endpoint) {
    case "auth.test":
      return ok({ user_id: "UBOT", team_id: "T1", bot_id: "B1" });
    case "chat.postMessage":
    case "chat.postEphemeral": {
      if (!channel) return error("channel_not_found");
      if (!text && body.blocks === undefined) return error("no_text");
      if (text.length > 40_000) return error("msg_too_long");
      const ts = newTs();
      const posted = apis.post("slack", endpoint, channel, text, { id: ts, threadId: threadTs });
      posted.buttons = buttons;
      if (endpoint === "chat.postEphemeral") {
        if (typeof body.user !== "string") return error("user_not_found");
        posted.ephemeralTo = body.user;
        return ok({ message_ts: ts });
      }
      return ok({ channel, ts, message: { text, ts, ...(threadTs && { thread_ts: threadTs }) } });
    }
    case "chat.update": {
      const target = find();
      if (!target || target.conversation !== channel) return error("message_not_found");
      if (target.streaming) return error("message_is_streaming");
      target.text = text;
      target.buttons = buttons;
      target.edits++;
      target.touchedAt = Date.now();
      return ok({ channel, ts: target.id, text });
    }
    case "chat.startStream": {
      if (!channel) return error("channel_not_found");
      if (!threadTs) return error("invalid_arguments");
      // Outside DMs a stream needs the person it answers.
      if (!channel.startsWith("D") && (!body.recipient_user_id || !body.recipient_team_id))
        return error("missing_recipient_user_id");
      if (markdown.length > 12_000) return error("msg_too_long");
      const ts = newTs();
      const posted = apis.post("slack", endpoint, channel, markdown, { id: ts, threadId: threadTs });
      posted.streaming = true;
      return ok({ channel, ts });
    }
    case "chat.appendStream":
    case "chat.stopStream": {
      const target = find();
      if (!target || target.conversation !== channel) return error("message_not_found");
      if (target.streaming && Date.now() - target.touchedAt > apis.slackStreamIdleMs)
        target.streaming = false;
      if (!target.streaming) return error("message_not_in_streaming_state");
      if (endpoint === "chat.appendStream" && !markdown) return error("invalid_arguments");
      if (target.text.length + markdown.length > 40_000 || markdown.length > 12_000)
        return error("msg_too_long");
      target.text += markdown;
      target.edits++;
      target.touchedAt = Date.now();
      if (endpoint === "chat.stopStream") {
        target.streaming = false;
        target.buttons = buttons;
      }
      return ok({ channel, ts: target.id });
    }
    case "files.getUploadURLExternal": {
      const name = typeof body.filename === "string" ? body.filename : "";
      const length = Number(body.length);
      if (!name || !(length > 0)) return error("invalid_arguments");
      const fileId = `F${++apis.ids}`;
      apis.slackUploads.set(fileId, { name, length });
      return ok({ upload_url: `${apis.baseUrl}/slack/upload/${fileId}`, file_id: fileId });
    }
    case "upload": {
      const pending = apis.slackUploads.get(params.file ?? "");
      const part = Object.values(body).find(isUpload);
      if (!pending || !part) return { status: 404, body: undefined };
      if (part.size !== pending.length) return { status: 400, body: undefined };
      apis.slackUploads.set(params.file ?? "", { ...pending, data: part });
      return { status: 200, body: undefined };
    }
    case "files.completeUploadExternal": {
      const files = Array.isArray(body.files) ? (body.files as { id?: string; title?: string }[]) : [];
      if (files.length === 0) return error("invalid_arguments");
      const target = typeof body.channel_id === "string" ? body.channel_id : "";
      for (const f of files) {
        const upload = apis.slackUploads.get(f.id ?? "");
        if (!upload?.data) return error("file_not_found");
        if (target) {
          apis.files.push({
            platform: "slack",
            conversation: target,
            name: upload.name,
            size: upload.data.size,
            content: upload.data.content,
            sha256: upload.data.sha256,
            via: endpoint,
            threadId: threadTs,
            at: Date.now(),
          });
        }
      }
      const comment = typeof body.initial_comment === "string" ? body.initial_comment : "";
      if (target && comment)
        apis.post("slack", endpoint, target, comment, { id: newTs(), threadId: threadTs });
      return ok({ files: files.map((f) => ({ id: f.id, title: f.title })) });
    }
    default:
      return error("unknown_method");
  }
}

/** Slack's Block Kit limits (50 blocks, section text 3,000, button value 2,000): the error code, if any. */
function slackBlocksError(blocks: unknown): string | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || blocks.length > 50) return "invalid_blocks";
  for (const block of blocks as {
    type?: string;
    text?: { text?: string };
    elements?: { value?: string }[];
  }[]) {
    if (block.type === "section" && (block.text?.text?.length ?? 0) > 3_000) return "invalid_blocks";
    if (block.type === "actions" && (block.elements ?? []).some((e) => (e.value?.length ?? 0) > 2_000))
      return "invalid_blocks";
  }
  return undefined;
}

function slackButtons(blocks: unknown): { label: string; value: string }[] {
  if (!Array.isArray(blocks)) return [];
  return (blocks as { type?: string; elements?: { text?: { text?: string }; value?: string }[] }[])
    .filter((b) => b.type === "actions")
    .flatMap((b) => (b.elements ?? []).map((e) => ({ label: String(e.text?.text), value: String(e.value) })));
}
