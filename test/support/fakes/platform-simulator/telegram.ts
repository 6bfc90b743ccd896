import { isUpload, type PlatformApis, type Reply, type SimMessage } from "./platforms.ts";

/** Telegram Bot API: messages, edits, drafts, callback answers; HTML parsed as Telegram does. */
export function serveTelegram(apis: PlatformApis, endpoint: string, body: Record<string, unknown>): Reply {
  const ok = (result: unknown): Reply => ({ status: 200, body: { ok: true, result } });
  const bad = (description: string): Reply => ({
    status: 400,
    body: { ok: false, error_code: 400, description: `Bad Request: ${description}` },
  });
  const chat = String(body.chat_id ?? "");
  const text = typeof body.text === "string" ? body.text : "";
  const asMessage = (m: SimMessage) => ({
    message_id: Number(m.id),
    date: Math.floor(m.createdAt / 1000),
    chat: { id: Number(chat), type: Number(chat) > 0 ? "private" : "supergroup" },
    text: m.text,
    ...(m.threadId && { message_thread_id: Number(m.threadId) }),
  });
  const html = body.parse_mode === "HTML";
  // Telegram counts the limit after entity parsing, and refuses HTML it cannot parse.
  const visible = html ? telegramVisible(text) : text;
  if (html && visible === undefined) return bad("can't parse entities: unsupported or unbalanced tag");
  const keyboard = (body.reply_markup as { inline_keyboard?: { text: string; callback_data: string }[][] })
    ?.inline_keyboard;
  const buttons = (keyboard ?? []).flat().map((b) => ({ label: b.text, value: b.callback_data }));
  if (buttons.some((b) => Buffer.byteLength(b.value) > 64)) return bad("BUTTON_DATA_INVALID");
  switch (endpoint) {
    case "getMe":
      return ok({ id: 123456789, is_bot: true, first_name: "Claude", username: "cloudclaude_bot" });
    case "sendChatAction":
      return ok(true);
    case "deleteMessage":
      // A bot may delete what people send it in a private chat (and in groups only as an admin: not here).
      if (!body.message_id) return bad("message identifier is not specified");
      return Number(chat) > 0 ? ok(true) : bad("message can't be deleted");
    case "answerCallbackQuery": {
      apis.callbackAnswers.push({ id: String(body.callback_query_id), text: String(body.text ?? "") });
      return ok(true);
    }
    case "sendMessageDraft": {
      if (!(Number(chat) > 0)) return bad("TEXTDRAFT_PEER_INVALID");
      if (!body.draft_id) return bad("draft_id is empty");
      if ((visible ?? "").length > 4_096) return bad("message is too long");
      const key = `${chat}:${body.draft_id}`;
      apis.telegramDrafts.set(key, [...(apis.telegramDrafts.get(key) ?? []), text]);
      return ok(true);
    }
    case "sendMessage": {
      if (!chat) return bad("chat_id is empty");
      if (!(visible ?? "").trim()) return bad("message text is empty");
      if ((visible ?? "").length > 4_096) return bad("message is too long");
      const reply = body.reply_parameters as { message_id?: number } | undefined;
      const posted = apis.post("telegram", endpoint, chat, text, {
        threadId: body.message_thread_id === undefined ? undefined : String(body.message_thread_id),
        replyTo: reply?.message_id === undefined ? undefined : String(reply.message_id),
      });
      posted.buttons = buttons;
      posted.parseMode = typeof body.parse_mode === "string" ? body.parse_mode : undefined;
      return ok(asMessage(posted));
    }
    case "sendDocument": {
      // grammY sends the file as `document`, or as `attach://<field>` naming the file part.
      const ref = body.document;
      const part = typeof ref === "string" && ref.startsWith("attach://") ? body[ref.slice(9)] : ref;
      if (!chat) return bad("chat_id is empty");
      if (!isUpload(part)) return bad("there is no document in the request");
      if (part.size > 50 * 1024 * 1024)
        return { status: 413, body: { ok: false, error_code: 413, description: "Request Entity Too Large" } };
      const caption = typeof body.caption === "string" ? body.caption : "";
      if (caption.length > 1_024) return bad("message caption is too long");
      const threadId = body.message_thread_id === undefined ? undefined : String(body.message_thread_id);
      apis.files.push({
        platform: "telegram",
        conversation: chat,
        name: part.name,
        size: part.size,
        content: part.content,
        sha256: part.sha256,
        via: endpoint,
        threadId,
        at: Date.now(),
      });
      const posted = apis.post("telegram", endpoint, chat, caption, { threadId });
      return ok({
        ...asMessage(posted),
        document: {
          file_name: part.name,
          file_size: part.size,
          file_id: `doc${posted.id}`,
          file_unique_id: `u${posted.id}`,
        },
      });
    }
    case "editMessageText": {
      const target = apis.messages.find(
        (m) => m.platform === "telegram" && m.conversation === chat && m.id === String(body.message_id),
      );
      if (!target) return bad("message to edit not found");
      if ((visible ?? "").length > 4_096) return bad("message is too long");
      if (target.text === text && JSON.stringify(target.buttons) === JSON.stringify(buttons))
        return bad("message is not modified");
      target.text = text;
      target.buttons = buttons;
      target.parseMode = typeof body.parse_mode === "string" ? body.parse_mode : undefined;
      target.edits++;
      target.touchedAt = Date.now();
      return ok(asMessage(target));
    }
    default:
      return { status: 404, body: { ok: false, error_code: 404, description: "Not Found" } };
  }
}

const TELEGRAM_TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "code",
  "pre",
  "a",
  "blockquote",
  "tg-spoiler",
  "span",
]);

/** The text Telegram shows for an HTML message, or undefined when it would refuse to parse it. */
export function telegramVisible(html: string): string | undefined {
  const open: string[] = [];
  for (const match of html.matchAll(/<(\/?)([a-z-]+)([^>]*)>|<|&(?!(?:lt|gt|amp|quot|#\d+);)/g)) {
    if (match[0] === "<" || match[0] === "&") return undefined; // a raw < or & must be escaped
    const [, closing, tag = ""] = match;
    if (!TELEGRAM_TAGS.has(tag)) return undefined;
    if (closing) {
      if (open.pop() !== tag) return undefined;
    } else open.push(tag);
  }
  if (open.length > 0) return undefined;
  return html
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}
