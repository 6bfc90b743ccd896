import { randomUUID } from "node:crypto";
import type { PlatformApis, Reply } from "./platforms.ts";

/** LINE Messaging API: reply (single-use tokens), push (`X-Line-Retry-Key`), loading. */
export function serveLine(
  apis: PlatformApis,
  endpoint: string,
  body: Record<string, unknown>,
  retryKey: string | string[] | undefined,
): Reply {
  if (endpoint === "loading") return { status: 202, body: {} };
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const invalid = messages.findIndex((m) => m.type !== "text" || !isText(m.text, 5_000) || !quickReplyOk(m));
  if (messages.length < 1 || messages.length > 5 || invalid >= 0) {
    return {
      status: 400,
      body: { message: "The request body has 1 error(s)", details: [{ property: "messages" }] },
    };
  }
  let to: string;
  if (endpoint === "reply") {
    const token = apis.lineTokens.get(String(body.replyToken));
    if (!token || token.used || token.expiresAt < Date.now()) {
      return { status: 400, body: { message: "Invalid reply token" } };
    }
    token.used = true;
    to = token.to;
  } else {
    to = String(body.to ?? "");
    if (!to) return { status: 400, body: { message: "The property, 'to', in the request body is invalid" } };
    const key = typeof retryKey === "string" ? retryKey : undefined;
    const accepted = key && apis.lineRetryKeys.get(key);
    if (accepted) return { ...accepted, status: 409, duplicate: true };
  }
  const sent = messages.map((m) => {
    const posted = apis.post("line", endpoint, to, String(m.text), {
      replyTo: endpoint === "reply" ? String(body.replyToken) : undefined,
    });
    const items = (m.quickReply as { items?: { action?: { label?: string; data?: string } }[] } | undefined)
      ?.items;
    posted.buttons = (items ?? []).map((i) => ({
      label: String(i.action?.label),
      value: String(i.action?.data),
    }));
    return { id: posted.id, quoteToken: `q${posted.id}` };
  });
  const reply: Reply = {
    status: 200,
    body: { sentMessages: sent },
    headers: { "x-line-request-id": randomUUID() },
  };
  if (typeof retryKey === "string") {
    const requestId = reply.headers?.["x-line-request-id"] ?? "";
    apis.lineRetryKeys.set(retryKey, {
      status: 409,
      body: { message: "The retry key is already accepted", sentMessages: sent },
      headers: { "x-line-accepted-request-id": requestId },
    });
  }
  return reply;
}

function quickReplyOk(message: Record<string, unknown>): boolean {
  const items = (
    message.quickReply as { items?: { action?: { label?: string; data?: string } }[] } | undefined
  )?.items;
  if (items === undefined) return true;
  return (
    items.length <= 13 &&
    items.every((i) => (i.action?.label?.length ?? 0) <= 20 && (i.action?.data?.length ?? 0) <= 300)
  );
}

function isText(value: unknown, max: number): boolean {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}
