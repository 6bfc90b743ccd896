// The Discord webhook at the request level: Ed25519 vectors, signature and window checks, fuzzed bodies.
import { describe, expect, it } from "vitest";
import { garble, garbleHeader, mutate, pick, randomText, seeded } from "../../../test/support/fuzz.ts";
import {
  TEST_NOW as NOW,
  TEST_NOW_S as NOW_S,
  type SignedRequest,
  sender,
  statusOf,
  webhookRequest,
} from "../../../test/support/webhooks/common.ts";
import {
  createDiscordTestKeys,
  DISCORD_TEST_APPLICATION_ID,
  discordAttachment,
  discordComponent,
  discordGatewayMessage,
  discordPing,
  discordSlashCommand,
  signedDiscordRequest,
  snowflake,
} from "../../../test/support/webhooks/discord.ts";
import {
  createDiscordWebhook,
  importDiscordPublicKey,
  parseDiscordGatewayMessage,
  verifyDiscordSignature,
} from "./discord.ts";

const STAMP = String(NOW_S);
const keys = createDiscordTestKeys();
const send = sender(
  createDiscordWebhook({ publicKey: keys.publicKeyHex, applicationId: DISCORD_TEST_APPLICATION_ID }),
);
const signed = (payload: unknown, timestamp = STAMP) => signedDiscordRequest(keys, payload, timestamp);

const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"));

describe("Discord signature", () => {
  // RFC 8032 §7.1, TEST 1–3: the official signatures verify with the official public keys.
  const rfc = [
    {
      secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      message: "",
      signature:
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
      secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      message: "72",
      signature:
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
    {
      secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
      publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
      message: "af82",
      signature:
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    },
  ];

  it.each(rfc)("verifies RFC 8032 vector with public key $publicKey", (vector) => {
    const key = importDiscordPublicKey(vector.publicKey);
    expect(verifyDiscordSignature(key, "", hex(vector.message), vector.signature)).toBe(true);
    expect(verifyDiscordSignature(key, "", hex(`${vector.message}00`), vector.signature)).toBe(false);
    // The test helper derives the same key pair and signature from the secret key.
    const derived = createDiscordTestKeys(vector.secret);
    expect(derived.publicKeyHex).toBe(vector.publicKey);
  });

  it("signs the timestamp followed by the body", () => {
    const key = importDiscordPublicKey(rfc[1]?.publicKey ?? "");
    const signature = rfc[1]?.signature ?? "";
    // TEST 2's message is the single byte "r": as timestamp "r" with an empty body it verifies too.
    expect(verifyDiscordSignature(key, "r", new Uint8Array(), signature)).toBe(true);
    expect(verifyDiscordSignature(key, "r", hex("72"), signature)).toBe(false);
  });

  it("accepts the Discord-shaped vector built from RFC 8032 TEST 1 (§3.9) and answers PONG", async () => {
    const vectorWebhook = createDiscordWebhook({ publicKey: rfc[0]?.publicKey ?? "" });
    const request = (timestamp: string) =>
      vectorWebhook.handle(
        webhookRequest(
          {
            headers: {
              "x-signature-ed25519":
                "f0bd878adcef1f6d475c9644421905bd02b5de38e0d3ecfc6f58a711962c69ccc8dd7c9db312f9bdf08b1e1b8182e27a844da728c5e0dbb5507bf9931c1ed80b",
              "x-signature-timestamp": timestamp,
            },
            body: '{"id":"787053080478613555","token":"ThisIsATokenFromDiscordThatIsVeryLong","type":1,"version":1}',
          },
          1_700_000_000_000,
        ),
      );
    expect(await request("1700000000")).toEqual({
      kind: "accepted",
      events: [],
      response: { status: 200, json: { type: 1 } },
    });
    expect(await request("1700000001")).toMatchObject({ kind: "rejected", status: 401 });
  });

  it("refuses a tampered body or timestamp, another key, and stale or future stamps", async () => {
    const good = signed(discordSlashCommand());
    const other = createDiscordTestKeys();
    const cases: [SignedRequest, number][] = [
      [{ headers: good.headers, body: good.body.replace("summarise", "summarize") }, NOW],
      [{ headers: { ...good.headers, "x-signature-timestamp": String(NOW_S + 1) }, body: good.body }, NOW],
      [signedDiscordRequest(other, discordSlashCommand(), STAMP), NOW],
      [signed(discordPing(), String(NOW_S - 301)), NOW],
      [signed(discordPing(), String(NOW_S + 301)), NOW],
    ];
    for (const [request, receivedAt] of cases) {
      expect(await send(request, receivedAt)).toMatchObject({ kind: "rejected", status: 401 });
    }
    expect(await send(signed(discordPing(), String(NOW_S - 300)))).toMatchObject({ kind: "accepted" });
  });

  it("refuses missing and garbage headers without throwing", async () => {
    const good = signed(discordPing());
    const signature = good.headers["x-signature-ed25519"] ?? "";
    const garbage: Record<string, string>[] = [
      {},
      { "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": signature },
      { "x-signature-ed25519": "", "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": "zz".repeat(64), "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": signature.slice(2), "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": `${signature}00`, "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": signature.toUpperCase().replace(/^../, "GG"), "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": "f".repeat(128), "x-signature-timestamp": STAMP },
      { "x-signature-ed25519": signature, "x-signature-timestamp": "" },
      { "x-signature-ed25519": signature, "x-signature-timestamp": "now" },
      { "x-signature-ed25519": signature, "x-signature-timestamp": `${STAMP}.5` },
      { "x-signature-ed25519": signature, "x-signature-timestamp": "9".repeat(400) },
    ];
    for (const headers of garbage) {
      expect(await send({ headers, body: good.body })).toMatchObject({ kind: "rejected", status: 401 });
    }
  });

  it("accepts an upper-case hex signature and rejects a malformed configured key", async () => {
    const good = signed(discordPing());
    const upper = {
      ...good.headers,
      "x-signature-ed25519": good.headers["x-signature-ed25519"]?.toUpperCase() ?? "",
    };
    expect(await send({ headers: upper, body: good.body })).toMatchObject({ kind: "accepted" });
    expect(() => createDiscordWebhook({ publicKey: "abc" })).toThrow(/64 hex/);
  });
});

describe("Discord robustness", () => {
  it("never throws: mutated and random bodies signed validly are 200 or 400", async () => {
    const random = seeded(0xd15c);
    const seeds: (() => unknown)[] = [
      () => mutate(discordSlashCommand(), random),
      () => mutate(discordSlashCommand({ guildId: null }), random),
      () => mutate(discordComponent({ values: ["a"] }), random),
      () => mutate(discordPing(), random),
      () => garble(JSON.stringify(discordSlashCommand()), random),
      () => randomText(random),
    ];
    const statuses = new Set<number>();
    for (let i = 0; i < 520; i++) {
      const result = await send(signed(pick(seeds, random)()));
      const status = statusOf(result);
      statuses.add(status);
      expect([200, 400]).toContain(status);
      if (result.kind === "rejected") expect(result.reason).not.toBe("unprocessable payload");
      else expect(JSON.parse(JSON.stringify(result.events))).toEqual(result.events);
    }
    expect(statuses).toEqual(new Set([200, 400]));
  });

  it("never throws on garbage signature headers", async () => {
    const random = seeded(0x4ead);
    for (let i = 0; i < 200; i++) {
      const good = signed(discordPing());
      const headers = { ...good.headers };
      const name = pick(["x-signature-ed25519", "x-signature-timestamp"], random);
      headers[name] = garbleHeader(headers[name] ?? "", random);
      const result = await send({ headers, body: good.body });
      expect(statusOf(result)).toBeOneOf([200, 401]);
    }
  });

  it("never throws when parsing mutated Gateway messages", () => {
    const random = seeded(0x6a7e);
    for (let i = 0; i < 300; i++) {
      const message = discordGatewayMessage({
        content: `<@${DISCORD_TEST_APPLICATION_ID}> hi`,
        attachments: [discordAttachment()],
        replyToAuthorId: snowflake(),
      });
      const outcome = parseDiscordGatewayMessage(mutate(message, random), {
        receivedAt: NOW,
        applicationId: DISCORD_TEST_APPLICATION_ID,
      });
      // A bug surfaces as "unprocessable payload": the parser never throws.
      if (!outcome.ok) expect(outcome.reason).not.toBe("unprocessable payload");
    }
  });
});
