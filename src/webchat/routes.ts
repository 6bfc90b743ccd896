import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Context, Hono, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { WebchatHub } from "../delivery/webchat-hub.ts";
import type { Inbox } from "../inbox/index.ts";
import type { InboundEvent } from "../ingress/event.ts";
import type { StreamSink } from "../router/index.ts";
import { WEBCHAT_PAGE } from "./page.ts";

const Message = z.object({
  session: z.string().regex(/^[A-Za-z0-9-]{8,64}$/),
  text: z.string().trim().min(1).max(20_000),
  /** Lets the page retry a send without the message being stored twice. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
});

/**
 * A button press on the page (an approval's Allow once / Allow in this chat / Deny): the button's value,
 * which names a single-use token the router checks exactly as it checks a Telegram or Slack press.
 */
const Action = z.object({
  session: z.string().regex(/^[A-Za-z0-9-]{8,64}$/),
  value: z.string().min(1).max(300),
  /** Lets the page retry a press without it being stored twice. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
});

/**
 * Only the page itself may post: a JSON content type forces a CORS preflight on other origins, and
 * browsers mark cross-site requests. Otherwise any site the operator visits could start turns or press
 * buttons.
 */
async function pageOnly(c: Context, next: Next): Promise<Response | undefined> {
  if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    return c.json({ error: "expected application/json" }, 415);
  }
  if (c.req.header("sec-fetch-site") === "cross-site")
    return c.json({ error: "cross-site request refused" }, 403);
  await next();
  return undefined;
}

/** Text deltas of running turns, for the pages watching those conversations. Not durable by design. */
export class WebchatStream implements StreamSink {
  readonly #emitter = new EventEmitter().setMaxListeners(0);

  delta(conversationKey: string, turnId: string, text: string): void {
    if (conversationKey.startsWith("webchat:")) this.#emitter.emit(conversationKey, { turnId, text });
  }

  on(conversationKey: string, listener: (d: { turnId: string; text: string }) => void): () => void {
    this.#emitter.on(conversationKey, listener);
    return () => this.#emitter.off(conversationKey, listener);
  }
}

export interface WebchatDeps {
  readonly inbox: Inbox;
  readonly hub: WebchatHub;
  readonly stream: WebchatStream;
  readonly now?: () => number;
}

/**
 * The webchat platform: the page at `/`, `POST /webchat/api/messages` (stored in the inbox like any
 * webhook, then acknowledged), `POST /webchat/api/actions` (a button press, stored the same way), and
 * `GET /webchat/api/stream` (server-sent events: `delta` while Claude writes, `message` for each
 * delivered reply with its buttons; reconnecting pages get what they missed by Last-Event-ID).
 * Served to the local operator: the server binds 127.0.0.1 by default.
 */
export function mountWebchat(app: Hono, deps: WebchatDeps): { closeStreams(): void } {
  const now = deps.now ?? Date.now;
  /** Open event streams, ended at shutdown so they do not hold the server's drain open. */
  const open = new Set<() => void>();
  app.get("/", (c) => c.html(WEBCHAT_PAGE));

  /** Stores what the page sent in the inbox, like any webhook, then acknowledges it. */
  const enqueue = async (
    c: Context,
    session: string,
    id: string,
    content: InboundEvent["content"],
    raw: unknown,
  ): Promise<Response> => {
    const receivedAt = now();
    const event: InboundEvent = {
      platform: "webchat",
      eventId: `${session}:${id}`,
      conversation: { key: `webchat:${session}`, kind: "dm" },
      sender: { platformUserId: "local", displayName: "local operator" },
      occurredAt: receivedAt,
      receivedAt,
      addressedToBot: true,
      content,
      reply: { platform: "webchat", sessionId: session },
      raw,
    };
    const [outcome] = await deps.inbox.enqueue([event]);
    return c.json({ eventId: event.eventId, status: outcome?.status ?? "accepted" }, 202);
  };

  app.post(
    "/webchat/api/messages",
    bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.json({ error: "message too large" }, 413) }),
    pageOnly,
    async (c) => {
      const body = Message.safeParse(await c.req.json().catch(() => undefined));
      if (!body.success) return c.json({ error: "expected {session, text}" }, 400);
      const { session, text } = body.data;
      const id = body.data.id ?? randomUUID();
      return enqueue(c, session, id, { type: "message", text, attachments: [] }, body.data);
    },
  );

  // A button press becomes an `action` event in the inbox, like a Telegram callback_query or a Slack
  // block action: the router checks its token (single use, the person asked, still waiting) and answers.
  app.post(
    "/webchat/api/actions",
    bodyLimit({ maxSize: 4 * 1024, onError: (c) => c.json({ error: "action too large" }, 413) }),
    pageOnly,
    async (c) => {
      const body = Action.safeParse(await c.req.json().catch(() => undefined));
      if (!body.success) return c.json({ error: "expected {session, value}" }, 400);
      const { session, value } = body.data;
      const id = `action:${body.data.id ?? randomUUID()}`;
      return enqueue(c, session, id, { type: "action", actionId: "button", value }, body.data);
    },
  );

  app.get("/webchat/api/stream", (c) => {
    const session = c.req.query("session") ?? "";
    if (!/^[A-Za-z0-9-]{8,64}$/.test(session)) return c.json({ error: "session required" }, 400);
    const key = `webchat:${session}`;
    const after = Number.parseInt(c.req.header("last-event-id") ?? "", 10);
    return streamSSE(c, async (sse) => {
      const unsubscribers: (() => void)[] = [];
      let end: () => void = () => {};
      const closed = new Promise<void>((resolve) => {
        end = resolve;
        sse.onAbort(resolve);
        open.add(resolve);
      });
      unsubscribers.push(
        deps.hub.subscribe(
          key,
          (m) => {
            const turnId = /^turn:([^:]+):/.exec(m.key)?.[1];
            void sse.writeSSE({
              event: "message",
              id: String(m.seq),
              data: JSON.stringify({ text: m.text, turnId, ...(m.buttons && { buttons: m.buttons }) }),
            });
          },
          Number.isSafeInteger(after) ? { after } : {},
        ),
        deps.stream.on(key, (d) => {
          void sse.writeSSE({ event: "delta", data: JSON.stringify(d) });
        }),
      );
      const ping = setInterval(() => {
        void sse.writeSSE({ event: "ping", data: "" });
      }, 15_000);
      await closed;
      clearInterval(ping);
      open.delete(end);
      for (const off of unsubscribers) off();
    });
  });

  return {
    closeStreams() {
      for (const end of open) end();
      open.clear();
    },
  };
}
