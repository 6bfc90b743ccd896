import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { E2eSystem } from "./support/e2e.ts";
import {
  groupChat,
  TELEGRAM_TEST_BOT_USERNAME,
  telegramRequest,
  telegramTextUpdate,
  telegramUser,
} from "./support/webhooks/telegram.ts";

/**
 * People and their keys, end to end on the real executable: admission (allowlist, /invite, /join), the
 * /connect page, each person's credential in their own agents only, /link and /unlink, a pasted key, a
 * refused key, cross-tenant attempts, the users and keys commands, and no secret in any log or chat.
 */
const KEY4 = `sk-ant-api03-${randomBytes(30).toString("hex")}`;
const KEY5 = `sk-ant-api03-REJECTED${randomBytes(20).toString("hex")}`;
const PASTED = `sk-ant-api03-${randomBytes(30).toString("hex")}`;
const hash = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

describe("people and their keys", () => {
  let system: E2eSystem;
  let connectUrl = "";
  const tg = (user: number) => 10_000 + user;
  const textsTo = (chat: number | string) => system.sim.messagesTo(chat, "telegram").map((m) => m.text);
  const say = (user: number, text: string) => system.post(system.message("telegram", text, user));
  const waitTo = (chat: number | string, contains: string, timeoutMs = 20_000) =>
    system.sim.waitFor(
      () => textsTo(chat).some((t) => t.includes(contains)),
      timeoutMs,
      `a message to ${chat} containing ${JSON.stringify(contains)} (got ${JSON.stringify(textsTo(chat))}; server: ${system.server.output().slice(-1500)})`,
    );
  const waitCount = (chat: number | string, contains: string, n: number) =>
    system.sim.waitFor(
      () => textsTo(chat).filter((t) => t.includes(contains)).length >= n,
      20_000,
      `${n} messages to ${chat} containing ${JSON.stringify(contains)} (got ${JSON.stringify(textsTo(chat))})`,
    );
  const inGroup = (chat: ReturnType<typeof groupChat>, user: number, text: string) =>
    system.post({
      platform: "telegram",
      path: "/webhooks/telegram",
      ...telegramRequest(telegramTextUpdate({ text, from: telegramUser({ id: tg(user) }), chat })),
      eventId: "",
      conversationKey: "",
    });
  const connectLink = (chat: number) => {
    const found = textsTo(chat)
      .map((t) => /(http\S+\/connect\/[A-Za-z0-9_-]{43})/.exec(t)?.[1])
      .filter((u): u is string => u !== undefined);
    return found[found.length - 1] ?? "";
  };
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url.replace("/connect/", "/connect/api/"), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    system = await E2eSystem.start();
    for (const s of [KEY4, KEY5, PASTED]) system.secrets.add(s);
  }, 60_000);
  afterAll(() => system.stop());

  it("a stranger is refused and told how to get in", async () => {
    await say(4, "echo hello");
    await waitTo(tg(4), "telegram:10004");
    expect(textsTo(tg(4)).join("\n")).not.toContain("echo: hello");
  });

  it("an admin's /invite admits them once; their first message brings a one-time /connect link", async () => {
    await say(1, "/invite");
    await waitTo(tg(1), "/join ");
    const code = /\/join ([A-Z0-9-]+)/.exec(textsTo(tg(1)).join("\n"))?.[1] ?? "";
    await say(4, `/join ${code}`);
    await waitTo(tg(4), "Welcome");
    await say(5, `/join ${code}`); // someone else with the same, now used, code
    await waitTo(tg(5), "unknown, already used or expired");
    await say(4, "echo hello again");
    await waitTo(tg(4), "/connect/");
    connectUrl = connectLink(tg(4));
    expect(connectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/connect\//);
  });

  it("the /connect page checks the shape, stores the key, tells the chat, and works once", async () => {
    const page = await fetch(connectUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("Anthropic API key");
    expect((await post(connectUrl, { kind: "anthropic_api_key", value: "not-a-key" })).status).toBe(400);
    const crossSite = await post(
      connectUrl,
      { kind: "anthropic_api_key", value: KEY4 },
      { "sec-fetch-site": "cross-site" },
    );
    expect(crossSite.status).toBe(403);
    const saved = await post(connectUrl, { kind: "anthropic_api_key", value: KEY4 });
    expect(saved.status, await saved.clone().text()).toBe(200);
    await waitTo(tg(4), "is saved, encrypted");
    // An old link: used.
    expect((await post(connectUrl, { kind: "anthropic_api_key", value: PASTED })).status).toBe(410);
    expect((await fetch(connectUrl)).status).toBe(410);
    expect(
      (
        await post(connectUrl.replace(/[^/]{43}$/, "A".repeat(43)), {
          kind: "anthropic_api_key",
          value: PASTED,
        })
      ).status,
    ).toBe(410);
  });

  it("each person's agents get their own credential, and agent output never shows it", async () => {
    await say(4, "keyhash");
    await waitTo(tg(4), `keyhash:${hash(KEY4)}`);
    await say(1, "keyhash"); // an admin: the server's credential (operator mode)
    await waitTo(tg(1), `keyhash:${hash(system.env.ANTHROPIC_API_KEY ?? "")}`);
    await say(4, "leak");
    await waitTo(tg(4), "my key is [redacted]");
  }, 40_000);

  it("a key pasted into a chat is not passed on, and the sender is warned", async () => {
    await say(4, `here is my key ${PASTED} please use it`);
    await waitTo(tg(4), "looks like it holds a secret key");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(textsTo(tg(4)).join("\n")).not.toContain("please use it");
  });

  it("/link joins an account on another platform; an old code is refused; /unlink detaches", async () => {
    await say(4, "/link");
    await waitTo(tg(4), "/link ");
    const code = /\/link ([A-Z0-9-]+)/.exec(textsTo(tg(4)).join("\n"))?.[1] ?? "";
    await system.post(system.message("slack", `/link ${code}`, 4));
    await system.waitForReply("slack", "Linked.");
    await system.post(system.message("slack", "keyhash", 4));
    await system.waitForReply("slack", `keyhash:${hash(KEY4)}`);
    await say(5, `/link ${code}`); // B with A's old code
    await waitCount(tg(5), "unknown, already used or expired", 2);
    await system.post(system.message("slack", "/unlink slack:U4", 4));
    await system.waitForReply("slack", "slack:U4 is detached");
    await system.post(system.message("slack", "echo still me?", 4));
    await system.waitForReply("slack", "slack:U4");
    expect(system.replies("slack").join("\n")).not.toContain("echo: still me?");
  }, 40_000);

  it("Claude refusing a person's key is explained once, not on every message", async () => {
    const allow = await runCli(["users", "allow", "telegram:10005"], system.env);
    expect(allow.code, allow.output).toBe(0);
    await say(5, "echo hi");
    await waitTo(tg(5), "/connect/");
    expect((await post(connectLink(tg(5)), { kind: "anthropic_api_key", value: KEY5 })).status).toBe(200);
    await waitTo(tg(5), "is saved");
    await say(5, "echo one");
    await waitTo(tg(5), "Claude refused your Anthropic API key");
    await say(5, "echo two");
    await waitCount(tg(5), "Invalid API key", 2);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(textsTo(tg(5)).filter((t) => t.includes("Claude refused"))).toHaveLength(1);
  }, 40_000);

  it("cross-tenant: B cannot drive, approve in, or act on A's project", async () => {
    const create = await runCli(["projects", "create", "alpha", "--owner", "telegram:10003"], system.env);
    expect(create.code, create.output).toBe(0);
    const group = groupChat();
    const bind = await runCli(["projects", "bind", "alpha", `telegram:${group.id}`], system.env);
    expect(bind.code, bind.output).toBe(0);
    const bot = `@${TELEGRAM_TEST_BOT_USERNAME}`;
    await inGroup(group, 3, `${bot} permission ls -l`);
    await waitTo(group.id, "/approve");
    await inGroup(group, 4, "/approve");
    await waitTo(group.id, "no request waiting");
    await new Promise((r) => setTimeout(r, 500));
    expect(textsTo(group.id).join("\n")).not.toContain("ran ls -l");
    await inGroup(group, 3, "/approve");
    await waitTo(group.id, "ran ls -l");
    // Messages wait behind the running turn; once it is done, B's is refused, not run on A's VM.
    await inGroup(group, 4, `${bot} echo let me in`);
    await waitTo(group.id, "not a member");
    expect(textsTo(group.id).join("\n")).not.toContain("echo: let me in");
  }, 60_000);

  it("admins list, suspend and remove people from the CLI", async () => {
    const ls = await runCli(["users", "ls"], system.env);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.output).toMatch(/telegram:10004 {2}active .*credentials=anthropic_api_key/);
    expect(ls.output).not.toContain(KEY4);
    expect((await runCli(["users", "suspend", "telegram:10004"], system.env)).code).toBe(0);
    await say(4, "echo while suspended");
    await waitTo(tg(4), "suspended");
    expect((await runCli(["users", "reinstate", "telegram:10004"], system.env)).code).toBe(0);
    await say(4, "echo back again");
    await waitTo(tg(4), "echo: back again");
    const bad = await runCli(["users", "suspend", "telegram:nobody-here"], system.env);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("no user has the identity telegram:nobody-here");
    expect((await runCli(["users", "remove", "telegram:10005"], system.env)).code).toBe(0);
    await say(5, "echo gone");
    await waitCount(tg(5), "telegram:10005", 1);
  }, 40_000);

  it("rotating the master key keeps every credential readable", async () => {
    system.server.child.kill("SIGTERM");
    await system.server.exited;
    const before = JSON.parse(await readFile(path.join(system.dataDir, "keys", "master-key.json"), "utf8"));
    const rotate = await runCli(["keys", "rotate"], system.env);
    expect(rotate.code, rotate.output).toBe(0);
    const after = JSON.parse(await readFile(path.join(system.dataDir, "keys", "master-key.json"), "utf8"));
    expect(after.keys).toHaveLength(1);
    expect(after.keys[0].id).not.toBe(before.keys[0].id);
    const status = await runCli(["keys", "status"], system.env);
    expect(status.output).toContain(`current ${after.keys[0].id}`);
    expect(status.output).not.toContain(before.keys[0].id);
    await system.restart();
    await say(4, "keyhash");
    await waitCount(tg(4), `keyhash:${hash(KEY4)}`, 2);
  }, 60_000);

  it("a copy of the database files without the key file holds no credential", async () => {
    const files = (await readdir(system.dataDir)).filter((f) => f.startsWith("cloudclaude.db"));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = await readFile(path.join(system.dataDir, file));
      for (const secret of [KEY4, KEY5]) {
        expect(bytes.includes(Buffer.from(secret)), `${secret.slice(0, 16)}… in ${file}`).toBe(false);
      }
    }
  });

  it("no secret appeared in any log line or chat message", async () => {
    expect(await system.leaks()).toEqual([]);
  });
});

describe("users and keys commands", () => {
  it("each has --help", async () => {
    for (const args of [
      ["users", "--help"],
      ["users", "ls", "--help"],
      ["users", "allow", "--help"],
      ["users", "suspend", "--help"],
      ["users", "reinstate", "--help"],
      ["users", "remove", "--help"],
      ["keys", "--help"],
      ["keys", "status", "--help"],
      ["keys", "rotate", "--help"],
      ["keys", "forget-unreadable", "--help"],
    ]) {
      const { code, output } = await runCli(args, {});
      expect(code, args.join(" ")).toBe(0);
      expect(output).toContain("Usage: cloudclaude");
    }
  });

  it("a server finding credentials under a master key it lacks refuses to start, saying how to fix it", async () => {
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dataDir = await mkdtemp(path.join(tmpdir(), "cc-keys-e2e-"));
    const env = { CLOUDCLAUDE_DATA_DIR: dataDir };
    const allow = await runCli(["users", "allow", "telegram:42"], env);
    expect(allow.code, allow.output).toBe(0);
    // Seal one credential under the key file's key, then point the server at another key.
    const { openStore } = await import("../src/store/index.ts");
    const { loadSecrets } = await import("../src/secrets/server.ts");
    const { loadConfig } = await import("../src/config/index.ts");
    const { config } = loadConfig({ env, cwd: dataDir });
    const { store } = await openStore(config.database, { secrets: loadSecrets(config).box });
    const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "42" });
    await store.credentials.put({ userId: user.id, slot: "claude", kind: "anthropic_api_key", value: KEY4 });
    await store.close();
    const other = randomBytes(32).toString("base64");
    const serve = await runCli(["serve"], { ...env, CLOUDCLAUDE_MASTER_KEY: other });
    expect(serve.code).toBe(1);
    expect(serve.output).toContain("which this server does not have");
    const forget = await runCli(["keys", "forget-unreadable"], { ...env, CLOUDCLAUDE_MASTER_KEY: other });
    expect(forget.output).toContain("deleted 1 unreadable credential");
  }, 30_000);
});
