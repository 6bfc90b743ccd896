import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEvent } from "../agent/protocol.ts";
import { loadConfig } from "../config/index.ts";
import { createOutbox, type KyselyOutbox } from "../delivery/outbox.ts";
import { TurnStore } from "../router/turn-store.ts";
import { SecretBox } from "../secrets/envelope.ts";
import { keyIdOf, LocalKeyProvider } from "../secrets/keys.ts";
import { KeyHolders, PRESENCE_TTL_MS } from "../secrets/presence.ts";
import type { Logger } from "../shared/logger.ts";
import { type OpenedStore, openStore } from "../store/index.ts";
import { type AccessConfig, standingOfUser } from "./access.ts";
import { stopAgentsOf } from "./agents.ts";
import { CredentialInput, isCredentialRefusal } from "./credentials.ts";
import { noticeRefusedCredential } from "./outbound.ts";

const silent = { error() {}, warn() {}, info() {}, debug() {} } as unknown as Logger;
const KEY = `sk-ant-api03-${randomBytes(30).toString("hex")}`;

describe("credential input", () => {
  it("accepts Google Cloud regions for Vertex and AWS regions for Bedrock", () => {
    for (const region of [
      "us-east5",
      "europe-west1",
      "asia-southeast1",
      "northamerica-northeast2",
      "global",
    ]) {
      const parsed = CredentialInput.safeParse({
        kind: "vertex",
        value: { projectId: "my-project-42", region },
      });
      expect(parsed.success, region).toBe(true);
    }
    for (const region of ["us-east-1", "eu-central-2", "us-gov-west-1"]) {
      const parsed = CredentialInput.safeParse({
        kind: "bedrock",
        value: { region, bearerToken: "b".repeat(40) },
      });
      expect(parsed.success, region).toBe(true);
    }
    for (const region of ["us-east-1", "US-EAST5", "europe west1", ""]) {
      const parsed = CredentialInput.safeParse({
        kind: "vertex",
        value: { projectId: "my-project-42", region },
      });
      expect(parsed.success, region).toBe(false);
    }
    expect(
      CredentialInput.safeParse({
        kind: "bedrock",
        value: { region: "us-east5", bearerToken: "b".repeat(40) },
      }).success,
    ).toBe(false);
  });

  it("a refusal is the daemon's structured outcome, never the text of an answer", () => {
    expect(isCredentialRefusal({ isError: true, errorKind: "authentication_failed" })).toBe(true);
    expect(isCredentialRefusal({ isError: true, apiErrorStatus: 401 })).toBe(true);
    expect(isCredentialRefusal({ isError: true, errorKind: "rate_limit", apiErrorStatus: 429 })).toBe(false);
    expect(isCredentialRefusal({ isError: false, errorKind: "authentication_failed" })).toBe(false);
    expect(isCredentialRefusal({ isError: false })).toBe(false);
  });
});

describe("with a store", () => {
  let dir: string;
  let opened: OpenedStore;
  const box = () => {
    const key = randomBytes(32);
    return new SecretBox(new LocalKeyProvider([{ id: keyIdOf(key), key }]));
  };
  const config = (over: Partial<AccessConfig> = {}): AccessConfig => ({
    admins: [],
    access: "open",
    credentialEnv: {},
    webchatAdmin: true,
    ...over,
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "cc-identity-unit-"));
    opened = await openStore({ kind: "sqlite", path: path.join(dir, "cc.db") }, { secrets: box() });
  });
  afterEach(async () => {
    await opened.store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the webchat is an admin only on a local server", async () => {
    const { store } = opened;
    const local = await store.identities.resolveUser({ platform: "webchat", platformUserId: "local" });
    expect((await standingOfUser(store, config({ access: "allowlist" }), local)).admin).toBe(true);
    const publicServer = config({ access: "allowlist", webchatAdmin: false });
    expect(await standingOfUser(store, publicServer, local)).toMatchObject({ admin: false, member: false });
    const listed = { ...publicServer, admins: ["webchat:local"] };
    expect((await standingOfUser(store, listed, local)).admin).toBe(true);
  });

  it("the configuration decides: a public URL or a non-loopback listener turns the webchat off", () => {
    const agents = (env: Record<string, string>) => loadConfig({ env, cwd: dir }).config.agents;
    expect(agents({})).toMatchObject({ webchat: true, webchatAdmin: true });
    expect(agents({ CLOUDCLAUDE_HOST: "::1" })).toMatchObject({ webchat: true, webchatAdmin: true });
    expect(agents({ CLOUDCLAUDE_PUBLIC_URL: "https://cc.example.com" })).toMatchObject({
      webchat: false,
      webchatAdmin: false,
    });
    expect(agents({ CLOUDCLAUDE_HOST: "0.0.0.0" })).toMatchObject({ webchat: false, webchatAdmin: false });
    expect(agents({ CLOUDCLAUDE_HOST: "0.0.0.0", CLOUDCLAUDE_WEBCHAT: "on" })).toMatchObject({
      webchat: true,
      webchatAdmin: false,
    });
    expect(agents({ CLOUDCLAUDE_WEBCHAT: "off" })).toMatchObject({ webchat: false });
  });

  it("in open mode, a removed person stays refused when they write again, until allowed", async () => {
    const { store } = opened;
    const who = { platform: "telegram" as const, platformUserId: "77" };
    const user = await store.identities.resolveUser(who);
    expect((await standingOfUser(store, config(), user)).member).toBe(true);
    await store.access.removeUser(user.id);
    const again = await store.identities.resolveUser(who);
    expect(again.id).toBe(user.id);
    expect(await standingOfUser(store, config(), again)).toMatchObject({ member: false, removed: true });
    await store.access.set(user.id, { status: "active" });
    expect(await standingOfUser(store, config(), again)).toMatchObject({ member: true, removed: false });
  });

  it("a refused credential is announced once, and only on the daemon's structured signal", async () => {
    const { store, handle } = opened;
    const turns = new TurnStore(handle.db);
    const outbox = createOutbox(handle);
    const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "5" });
    await store.credentials.put({ userId: user.id, slot: "claude", kind: "anthropic_api_key", value: KEY });
    const reply = {
      platform: "telegram" as const,
      reply: { platform: "telegram" as const, chatId: 5 },
      inboundReceivedAt: 0,
      language: "en" as const,
    };
    const turn = (id: string) =>
      turns.create({
        id,
        conversationKey: "telegram:5",
        agent: "sb-x",
        userId: user.id,
        itemIds: [1],
        reply,
      });
    const finished = (turnId: string, over: Partial<Extract<AgentEvent, { type: "turn_finished" }>>) =>
      ({
        type: "turn_finished",
        seq: 1,
        conversation: "telegram:5",
        turnId,
        sessionId: "s",
        text: "HTTP 401 Unauthorized: token expired, please run /login",
        isError: false,
        interrupted: false,
        durationMs: 1,
        ...over,
      }) as AgentEvent;
    const deps = { store, turns, outbox, logger: silent, kickDelivery() {} };
    await turn("t1");
    await noticeRefusedCredential(deps, "sb-x", finished("t1", {}));
    expect((await store.credentials.list(user.id))[0]?.status).toBe("ok");
    await turn("t2");
    const refused = { isError: true, errorKind: "authentication_failed", apiErrorStatus: 401 };
    await noticeRefusedCredential(deps, "sb-x", finished("t2", refused));
    await noticeRefusedCredential(deps, "sb-x", finished("t2", refused)); // replayed
    await turn("t3");
    await noticeRefusedCredential(deps, "sb-x", finished("t3", refused));
    // Another agent naming this turn is not believed.
    await noticeRefusedCredential(deps, "sb-other", finished("t3", refused));
    const notices = (await outbox.pending()).filter((m) => m.text.includes("Claude refused"));
    expect(notices).toHaveLength(1);
    expect((await store.credentials.list(user.id))[0]?.status).toBe("rejected");
  });

  it("a sensitive message's text is overwritten once it is sent", async () => {
    const outbox: KyselyOutbox = createOutbox(opened.handle);
    const base = {
      platform: "telegram" as const,
      conversationKey: "telegram:9",
      reply: { platform: "telegram" as const, chatId: 9 },
      inboundReceivedAt: 0,
    };
    await outbox.enqueue({
      ...base,
      idempotencyKey: "a",
      text: "/link ABCD-EFGH",
      extras: { sensitive: true },
    });
    await outbox.enqueue({ ...base, idempotencyKey: "b", text: "an ordinary reply" });
    for (let i = 0; i < 2; i++) {
      const [claim] = await outbox.claim({ owner: "t", leaseMs: 10_000, limit: 1 });
      if (claim) await outbox.markSent(claim);
    }
    expect((await outbox.get("a"))?.text).not.toContain("ABCD");
    expect((await outbox.get("b"))?.text).toBe("an ordinary reply");
  });

  it("stopping a person's agents leaves those with a running turn alone", async () => {
    const { store } = opened;
    const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "8" });
    const project = await store.projects.create({ name: "p8", ownerUserId: user.id });
    const sb = `sb-${user.id}`;
    const vm = `vm-${project.id}`;
    const stopped: [string, string | undefined][] = [];
    const runtime = {
      inspect: async (name: string) => ({ name, state: "running" }) as never,
      stop: async (name: string, options?: { reason?: string }) => void stopped.push([name, options?.reason]),
    };
    const result = await stopAgentsOf(
      { store, runtime, busyAgents: async () => new Set([vm]) },
      user.id,
      "suspended",
    );
    expect(result).toEqual({ stopped: [sb], busy: [vm] });
    expect(stopped).toEqual([[sb, "suspended"]]);
  });

  it("key rotation and a running server exclude each other", async () => {
    let now = 1_000_000;
    const holders = new KeyHolders(opened.handle.db, () => now);
    const server = await holders.serve();
    await expect(holders.rotate(async () => "rotated")).rejects.toThrow(/a server is running/);
    await server.stop();
    expect(await holders.rotate(async () => "rotated")).toBe("rotated");
    // A server that died without saying so stops counting once its row lapses.
    await holders.serve();
    now += PRESENCE_TTL_MS + 1;
    expect(await holders.rotate(async () => "rotated")).toBe("rotated");
    // And a server does not start while a rotation runs.
    await holders.rotate(async () => {
      await expect(holders.serve()).rejects.toThrow(/keys rotate` is running/);
    });
  });
});
