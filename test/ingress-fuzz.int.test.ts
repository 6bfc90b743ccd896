import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { garbleHeader, mutatedBodies, seeded } from "./support/fuzz.ts";
import { createIngressApp, type IngressApp } from "./support/ingress-app.ts";
import {
  AUTH_HEADER,
  testPlatforms,
  WEBHOOK_PLATFORMS,
  type WebhookPlatformName,
} from "./support/traffic.ts";
import { signedDiscordRequest } from "./support/webhooks/discord.ts";
import { signedLineRequest } from "./support/webhooks/line.ts";
import { SLACK_FORM, SLACK_JSON, signedSlackBody } from "./support/webhooks/slack.ts";
import { telegramRequest } from "./support/webhooks/telegram.ts";

const REQUESTS_PER_ENDPOINT = 10_000;
const traffic = testPlatforms();

/** Whether two header values are the same signature (base64 and hex have more than one spelling). */
function sameSignature(platform: WebhookPlatformName, a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (platform === "line") return Buffer.from(a, "base64").equals(Buffer.from(b, "base64"));
  if (platform === "discord") return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

function sign(platform: WebhookPlatformName, body: string, formish: boolean): Record<string, string> {
  switch (platform) {
    case "line":
      return signedLineRequest(body).headers;
    case "slack":
      return signedSlackBody(body, formish ? SLACK_FORM : SLACK_JSON).headers;
    case "discord":
      return signedDiscordRequest(traffic.discordKeys, body).headers;
    case "telegram":
      return telegramRequest(body).headers;
  }
}

/**
 * 10,000 random and mutated payloads per endpoint through the real HTTP app and a real SQLite inbox, about
 * half validly signed and half with a missing or damaged signature. Whatever arrives: no 5xx, no crash (an
 * exception escaping a handler would be a 500), and a request without a valid signature stores nothing.
 */
describe("webhook fuzzing", () => {
  let ingress: IngressApp;
  beforeAll(async () => {
    ingress = await createIngressApp(traffic.env);
  });
  afterAll(() => ingress.close());

  const count = async () =>
    Number(
      (
        await ingress.handle.db
          .selectFrom("inbox_items")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it.each(WEBHOOK_PLATFORMS)(
    "%s: no 5xx, and nothing stored without a valid signature",
    async (platform) => {
      const random = seeded(WEBHOOK_PLATFORMS.indexOf(platform) + 1);
      const valid = Array.from(
        { length: 40 },
        (_, i) => traffic.message(platform, `fuzz seed ${i}`, i + 1).body,
      );
      const bodies = mutatedBodies(valid, REQUESTS_PER_ENDPOINT, 42 + WEBHOOK_PLATFORMS.indexOf(platform));
      const statuses = new Map<number, number>();
      let forged = 0;
      for (const body of bodies) {
        const formish = !body.trimStart().startsWith("{");
        const headers = sign(platform, body, formish);
        const header = AUTH_HEADER[platform];
        const valid = headers[header];
        if (random() < 0.5) {
          if (random() < 0.3) delete headers[header];
          else headers[header] = garbleHeader(headers[header] ?? "", random);
        }
        // A garble can leave the same signature (same character, or another spelling of the same bytes).
        const genuine = sameSignature(platform, headers[header], valid);
        if (!genuine) forged += 1;
        const before = genuine ? 0 : await count();
        const res = await ingress.app.request(`/webhooks/${platform}`, {
          method: "POST",
          headers,
          // latin1 keeps "random bytes" bodies as those exact bytes.
          body: Buffer.from(
            body,
            [...body].some((ch) => (ch.codePointAt(0) ?? 0) > 0xff) ? "utf8" : "latin1",
          ),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `status for body ${JSON.stringify(body.slice(0, 200))}`).toBeLessThan(500);
        if (!genuine) {
          expect(await count(), "a forged request stored something").toBe(before);
          // Slack's unsigned ssl_check probe is answered 200 (and stores nothing, checked above).
          if (!(platform === "slack" && /(^|&)ssl_check=/.test(body))) expect(res.status).toBe(401);
        }
      }
      expect(bodies).toHaveLength(REQUESTS_PER_ENDPOINT);
      expect(forged).toBeGreaterThan(REQUESTS_PER_ENDPOINT / 3);
      // The run reached the parsers: some valid payloads were stored, some malformed ones refused.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
      expect(statuses.get(401) ?? 0).toBeGreaterThan(forged / 2);
    },
    240_000,
  );
});
