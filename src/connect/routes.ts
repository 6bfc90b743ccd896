import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Outbox } from "../delivery/port.ts";
import { CONNECT_ID } from "../identity/codes.ts";
import type { ConnectCodeData } from "../identity/connect-data.ts";
import { CredentialInput, serialize, slotOf } from "../identity/credentials.ts";
import { kindLabel } from "../identity/labels.ts";
import { type Language, message } from "../router/messages.ts";
import type { Logger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import { CONNECT_CSP, connectPage, goneHtml } from "./page.ts";

export interface ConnectDeps {
  readonly store: Store;
  readonly outbox: Outbox;
  readonly kickDelivery: () => void;
  readonly logger: Logger;
  /** Stops a user's running agents so that they start again with the new credential. */
  readonly restartAgentsOf: (userId: string) => Promise<void>;
}

const HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

/**
 * The credential onboarding page. `GET /connect/<id>` shows the form while the id is valid (15 minutes,
 * unused); `POST /connect/api/<id>` checks the credential's shape, then uses the id (once), stores the
 * credential sealed, and tells the chat the link was asked from. Bad input is answered 400 and changes
 * nothing, so a typo can be corrected; a used, expired or unknown id is 410 whoever asks.
 */
export function mountConnect(app: Hono, deps: ConnectDeps): void {
  app.get("/connect/:id", async (c) => {
    const id = c.req.param("id");
    const code = CONNECT_ID.test(id) ? await deps.store.codes.peek("connect", id) : undefined;
    if (!code) return c.html(goneHtml("en"), 410, HEADERS);
    const data = code.data as ConnectCodeData | undefined;
    const language = data?.reply.language ?? "en";
    if (await barred(deps.store, code.userId)) return c.html(goneHtml(language), 410, HEADERS);
    return c.html(connectPage(language, data?.account), 200, {
      ...HEADERS,
      "content-security-policy": CONNECT_CSP,
    });
  });

  app.post(
    "/connect/api/:id",
    bodyLimit({ maxSize: 32 * 1024, onError: (c) => c.json({ error: "too large" }, 413, HEADERS) }),
    async (c, next) => {
      // Only the page itself: a JSON content type forces a CORS preflight elsewhere; browsers mark cross-site.
      if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json"))
        return c.json({ error: "expected application/json" }, 415, HEADERS);
      if (c.req.header("sec-fetch-site") === "cross-site")
        return c.json({ error: "cross-site request refused" }, 403, HEADERS);
      await next();
    },
    async (c) => {
      const id = c.req.param("id");
      const gone = () => c.json({ error: "this link has expired or was already used" }, 410, HEADERS);
      if (!CONNECT_ID.test(id)) return gone();
      const pending = await deps.store.codes.peek("connect", id);
      if (!pending) return gone();
      // Suspended or removed since the link was made: the link is dead (suspending also withdraws it).
      if (await barred(deps.store, pending.userId)) return gone();
      const language: Language = (pending.data as ConnectCodeData | undefined)?.reply.language ?? "en";
      const parsed = CredentialInput.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return c.json({ error: issue ? issue.message : "invalid credential" }, 400, HEADERS);
      }
      // Single use: of two concurrent posts, one wins; the other is told the link is gone.
      const code = await deps.store.codes.redeem("connect", id);
      if (!code) return gone();
      const input = parsed.data;
      const slot = slotOf(input.kind);
      const previous = (await deps.store.credentials.list(code.userId)).find((c) => c.slot === slot);
      await deps.store.credentials.put({
        userId: code.userId,
        slot,
        kind: input.kind,
        value: serialize(input),
      });
      deps.logger.info({ user: code.userId, kind: input.kind }, "credential connected");
      await deps
        .restartAgentsOf(code.userId)
        .catch((error: unknown) =>
          deps.logger.warn(
            { err: error, user: code.userId },
            "could not restart agents after a new credential",
          ),
        );
      const data = code.data as ConnectCodeData | undefined;
      if (data) {
        await deps.outbox.enqueue({
          idempotencyKey: `connect:${id.slice(0, 16)}`,
          platform: data.reply.platform,
          conversationKey: data.conversationKey,
          reply: data.reply.reply,
          inboundReceivedAt: data.reply.inboundReceivedAt,
          text: previous
            ? message(language, "credentialReplaced", {
                kind: kindLabel(language, input.kind),
                old: kindLabel(language, previous.kind),
              })
            : message(language, "credentialSaved", { kind: kindLabel(language, input.kind) }),
        });
        deps.kickDelivery();
      }
      return c.json({ ok: true, kind: input.kind }, 200, HEADERS);
    },
  );
}

/** A suspended or removed person may not connect a credential. */
async function barred(store: Store, userId: string): Promise<boolean> {
  const status = (await store.access.get(userId))?.status;
  return status === "suspended" || status === "removed";
}
