import { describe, expect, it } from "vitest";
import type { PlatformsConfig } from "../../config/index.ts";
import { outbound, sendAll } from "../testing/messages.ts";
import { WebchatHub, type WebchatMessage } from "../webchat-hub.ts";
import { createSenders } from "./index.ts";

const platforms = (tokens: {
  line?: string;
  slack?: string;
  discord?: string;
  telegram?: string;
}): PlatformsConfig => ({
  line: {
    channelSecret: undefined,
    botUserId: undefined,
    accessToken: tokens.line,
    apiBaseUrl: "http://127.0.0.1:9",
  },
  slack: {
    signingSecret: undefined,
    botToken: tokens.slack,
    appToken: undefined,
    apiUrl: "http://127.0.0.1:9/api",
  },
  discord: {
    publicKey: undefined,
    applicationId: undefined,
    botToken: tokens.discord,
    gateway: false,
    apiUrl: "http://127.0.0.1:9/api",
  },
  telegram: {
    webhookSecret: undefined,
    botToken: tokens.telegram,
    mode: "webhook",
    botUsername: undefined,
    apiRoot: "http://127.0.0.1:9",
  },
});

describe("createSenders", () => {
  it("makes a sender for each platform with a token, and webchat always", () => {
    const hub = new WebchatHub();
    expect([...createSenders(platforms({}), hub).keys()]).toEqual(["webchat"]);
    const all = createSenders(platforms({ line: "l", slack: "s", discord: "d", telegram: "1:t" }), hub);
    expect([...all.keys()].sort()).toEqual(["discord", "line", "slack", "telegram", "webchat"]);
    for (const [platform, sender] of all) expect(sender.platform).toBe(platform);
  });
});

describe("webchat delivery", () => {
  it("publishes each chunk to the conversation's listeners once, and replays history", async () => {
    const hub = new WebchatHub();
    const sender = createSenders(platforms({}), hub).get("webchat");
    if (!sender) throw new Error("no webchat sender");
    const seen: WebchatMessage[] = [];
    const unsubscribe = hub.subscribe("webchat:s1", (m) => seen.push(m));
    const message = outbound({ platform: "webchat", sessionId: "s1" }, "**hello**", {
      conversationKey: "webchat:s1",
    });
    await sendAll(sender, message);
    await sendAll(sender, message, 1);
    expect(seen.map((m) => [m.text, m.key])).toEqual([["**hello**", `${message.idempotencyKey}#0`]]);
    expect(hub.listenerCount("webchat:s1")).toBe(1);
    unsubscribe();
    expect(hub.listenerCount("webchat:s1")).toBe(0);

    const other = outbound({ platform: "webchat", sessionId: "s1" }, "second", {
      conversationKey: "webchat:s1",
    });
    await sendAll(sender, other);
    expect(seen).toHaveLength(1);
    const replayed: string[] = [];
    hub.subscribe("webchat:s1", (m) => replayed.push(m.text), { after: seen[0]?.seq ?? 0 });
    expect(replayed).toEqual(["second"]);
    expect(hub.history("webchat:other")).toEqual([]);
  });

  it("keeps a bounded history and survives a throwing listener", () => {
    const hub = new WebchatHub({ historyLimit: 3 });
    hub.subscribe("c", () => {
      throw new Error("page gone");
    });
    const got: number[] = [];
    hub.subscribe("c", (m) => got.push(m.seq));
    for (let i = 0; i < 5; i++) hub.publish("c", { key: `k${i}`, text: `t${i}` });
    expect(got).toHaveLength(5);
    expect(hub.history("c").map((m) => m.text)).toEqual(["t2", "t3", "t4"]);
  });
});
