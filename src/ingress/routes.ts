import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Counter } from "prom-client";
import type { Inbox } from "../inbox/index.ts";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { WebhookPlatform, WebhookResponse } from "./platforms/types.ts";

/** Platforms send small JSON; anything over this is refused before it is read in full. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface WebhookRoutesDeps {
  /** The enabled platforms; a request for any other gets 404. */
  readonly platforms: readonly WebhookPlatform[];
  readonly inbox: Inbox;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

/**
 * `POST /webhooks/:platform`: verify → normalise → store durably → acknowledge (DESIGN §3.1). The 2xx goes
 * out only after the inbox has committed the events; a storage failure answers 503 so the platform retries
 * (dedupe makes the retry harmless). Client faults are 4xx and store nothing.
 */
export function mountWebhookRoutes(app: Hono, deps: WebhookRoutesDeps): void {
  const now = deps.now ?? Date.now;
  const byName = new Map(deps.platforms.map((p) => [p.platform as string, p]));
  const requests = new Counter({
    name: "cloudclaude_webhook_requests_total",
    help: "Webhook requests by platform and outcome (accepted, rejected_401, too_large, unavailable, …).",
    labelNames: ["platform", "outcome"] as const,
    registers: [deps.metrics.registry],
  });
  const events = new Counter({
    name: "cloudclaude_inbound_events_total",
    help: "Normalised inbound events by platform and whether they were new or duplicates.",
    labelNames: ["platform", "status"] as const,
    registers: [deps.metrics.registry],
  });

  app.post(
    "/webhooks/:platform",
    async (c, next) => {
      if (!byName.has(c.req.param("platform"))) {
        requests.inc({ platform: "unknown", outcome: "not_enabled" });
        return c.json({ error: `platform ${c.req.param("platform")} is not enabled on this server` }, 404);
      }
      await next();
    },
    bodyLimit({
      maxSize: MAX_WEBHOOK_BODY_BYTES,
      onError: (c) => {
        requests.inc({ platform: c.req.param("platform") ?? "unknown", outcome: "too_large" });
        return c.json({ error: "payload too large" }, 413);
      },
    }),
    async (c) => {
      const name = c.req.param("platform");
      const platform = byName.get(name);
      if (!platform) return c.json({ error: "not found" }, 404);
      const receivedAt = now();
      const body = new Uint8Array(await c.req.arrayBuffer());
      const result = await platform.handle({ headers: c.req.raw.headers, body, receivedAt });

      if (result.kind === "rejected") {
        requests.inc({ platform: name, outcome: `rejected_${result.status}` });
        deps.logger.info(
          { platform: name, status: result.status, reason: result.reason },
          "webhook rejected",
        );
        return c.json({ error: result.reason }, result.status);
      }

      if (result.events.length > 0) {
        try {
          const outcomes = await deps.inbox.enqueue(result.events);
          for (const o of outcomes) events.inc({ platform: name, status: o.status });
        } catch (error) {
          requests.inc({ platform: name, outcome: "unavailable" });
          deps.logger.error(
            { err: error, platform: name },
            "could not store webhook events; asking the platform to retry",
          );
          return c.json({ error: "temporarily unavailable, retry later" }, 503, { "retry-after": "5" });
        }
      }
      requests.inc({ platform: name, outcome: "accepted" });
      return respond(result.response);
    },
  );
}

function respond(response: WebhookResponse): Response {
  if (response.json !== undefined) {
    return new Response(JSON.stringify(response.json), {
      status: response.status,
      headers: { "content-type": "application/json" },
    });
  }
  if (response.status === 204) return new Response(null, { status: 204 });
  return new Response(response.text ?? "", {
    status: response.status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
