import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
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
const KEY6 = `sk-ant-api03-${randomBytes(30).toString("hex")}`;
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
    for (const s of [KEY4, KEY5, KEY6, PASTED]) system.secrets.add(s);
  }, 60_000);
  afterAll(() => system.stop());
  /** The outbox rows as stored (the database, read beside the running server). */
  const outboxTexts = () => {
    const db = new Database(path.join(system.dataDir, "cloudclaude.db"), { readonly: true });
    try {
      return (db.prepare("select text from outbox").all() as { text: string }[]).map((r) => r.text);
    } finally {
      db.close();
    }
  };
  /** Waits until every row of the outbox was sent (so sensitive texts had the chance to be scrubbed). */
  const outboxSettled = async () => {
    for (let i = 0; i < 100; i++) {
      const db = new Database(path.join(system.dataDir, "cloudclaude.db"), { readonly: true });
      const pending = (
        db.prepare("select count(*) as n from outbox where status = 'pending'").get() as {
          n: number;
        }
      ).n;
      db.close();
      if (pending === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the outbox did not drain");
  };
  const cli = (args: string[]) => system.cli(args);

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
    // Neither the invite code nor the /connect link stays readable in the database once sent.
    await outboxSettled();
    const stored = outboxTexts().join("\n");
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(connectUrl.slice(-43));
    expect(stored).toContain("removed from the outbox");
  });

  it("the /connect page checks the shape, stores the key, tells the chat, and works once", async () => {
    const page = await fetch(connectUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("Anthropic API key");
    // Whose account it is for, and a path relative to the page (a public URL may have a path prefix).
    expect(html).toMatch(/For the Telegram account <strong>Ada Lovelace<\/strong>/);
    expect(html).toContain('fetch("api/"');
    const tooLarge = await post(connectUrl, { kind: "anthropic_api_key", value: "x".repeat(40_000) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("cache-control")).toBe("no-store");
    expect(tooLarge.headers.get("referrer-policy")).toBe("no-referrer");
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
    // An ordinary answer that talks about a 401 is not a refused key: no notice, the key stays good.
    await say(4, "echo HTTP 401 Unauthorized: token expired, please run /login (authentication_error)");
    await waitTo(tg(4), "echo: HTTP 401 Unauthorized");
    await new Promise((r) => setTimeout(r, 500));
    expect(textsTo(tg(4)).join("\n")).not.toContain("Claude refused");
    const ls = await cli(["users", "ls"]);
    expect(ls.output).toMatch(/telegram:10004 .*credentials=anthropic_api_key(?!\(rejected\))/);
  }, 40_000);

  it("a key pasted into a chat is not passed on, deleted where the bot may, and the sender is warned", async () => {
    await say(4, `here is my key ${PASTED} please use it`);
    await waitTo(tg(4), "looks like it holds a secret key");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(textsTo(tg(4)).join("\n")).not.toContain("please use it");
    // A private Telegram chat: the bot deletes the message and says so.
    const deletions = system.sim.calls({ platform: "telegram", endpoint: "deleteMessage" });
    expect(deletions.map((c) => c.status)).toEqual([200]);
    expect(textsTo(tg(4)).join("\n")).toContain("I deleted it from this chat");
  });

  it("a key in group chatter not meant for the bot is ignored; said to the bot, it is warned about", async () => {
    const group = groupChat();
    await inGroup(group, 4, `fyi the staging key is ${PASTED}`);
    await inGroup(group, 4, `@${TELEGRAM_TEST_BOT_USERNAME} mine is ${PASTED}`);
    await waitTo(group.id, "looks like it holds a secret key");
    await new Promise((r) => setTimeout(r, 500));
    expect(textsTo(group.id).filter((t) => t.includes("looks like it holds"))).toHaveLength(1);
  });

  it("/link joins an account on another platform; an old code is refused; /unlink detaches", async () => {
    await say(4, "/link");
    await waitTo(tg(4), "/link ");
    const code = /\/link ([A-Z0-9-]+)/.exec(textsTo(tg(4)).join("\n"))?.[1] ?? "";
    await system.post(system.message("slack", `/link ${code}`, 4));
    await system.waitForReply("slack", "Linked.");
    // The account that issued the code is told who joined it.
    await waitTo(tg(4), "slack:U4 joined your account");
    await outboxSettled();
    expect(outboxTexts().join("\n")).not.toContain(code);
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
    const allow = await cli(["users", "allow", "telegram:10005"]);
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
    // A new key replaces the refused one, and the chat is told which kind replaced which.
    await say(5, "/connect");
    await waitCount(tg(5), "/connect/", 2);
    expect((await post(connectLink(tg(5)), { kind: "anthropic_api_key", value: KEY6 })).status).toBe(200);
    await waitTo(tg(5), "replaces your Anthropic API key");
  }, 40_000);

  it("cross-tenant: B cannot drive, approve in, or act on A's project", async () => {
    const create = await cli(["projects", "create", "alpha", "--owner", "telegram:10003"]);
    expect(create.code, create.output).toBe(0);
    const group = groupChat();
    const bind = await cli(["projects", "bind", "alpha", `telegram:${group.id}`]);
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
    const ls = await cli(["users", "ls"]);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.output).toMatch(/telegram:10004 {2}active .*credentials=anthropic_api_key/);
    expect(ls.output).not.toContain(KEY4);
    // An open /connect link dies with the suspension.
    await say(4, "/connect");
    await waitCount(tg(4), "/connect/", 2);
    const open = connectLink(tg(4));
    expect((await cli(["users", "suspend", "telegram:10004"])).code).toBe(0);
    expect((await fetch(open)).status).toBe(410);
    expect((await post(open, { kind: "anthropic_api_key", value: KEY6 })).status).toBe(410);
    await say(4, "echo while suspended");
    await waitTo(tg(4), "suspended");
    expect((await cli(["users", "reinstate", "telegram:10004"])).code).toBe(0);
    await say(4, "echo back again");
    await waitTo(tg(4), "echo: back again");
    await say(4, "keyhash"); // still the key connected before: the refused save changed nothing
    await waitCount(tg(4), `keyhash:${hash(KEY4)}`, 2);
    const bad = await cli(["users", "suspend", "telegram:nobody-here"]);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("no user has the identity telegram:nobody-here");
    expect((await cli(["users", "remove", "telegram:10005"])).code).toBe(0);
    await say(5, "echo gone");
    await waitTo(tg(5), "You were removed");
    // Removed people stay refused, even with an invite code, until an admin allows them again.
    await say(1, "/invite");
    await waitCount(tg(1), "/join ", 2);
    const codes = [
      ...textsTo(tg(1))
        .join("\n")
        .matchAll(/\/join ([A-Z0-9-]+)/g),
    ].map((m) => m[1]);
    await say(5, `/join ${codes[codes.length - 1]}`);
    await waitCount(tg(5), "You were removed", 2);
    expect((await cli(["users", "allow", "telegram:10005"])).code).toBe(0);
    await say(5, "echo allowed again");
    await waitCount(tg(5), "/connect/", 3); // admitted again, without a credential (it was deleted)
  }, 60_000);

  it("rotating the master key keeps every credential readable", async () => {
    const refused = await cli(["keys", "rotate"]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain("a server is running on this database");
    system.server.child.kill("SIGTERM");
    await system.server.exited;
    const before = JSON.parse(await readFile(path.join(system.dataDir, "keys", "master-key.json"), "utf8"));
    const rotate = await cli(["keys", "rotate"]);
    expect(rotate.code, rotate.output).toBe(0);
    const after = JSON.parse(await readFile(path.join(system.dataDir, "keys", "master-key.json"), "utf8"));
    expect(after.keys).toHaveLength(1);
    expect(after.keys[0].id).not.toBe(before.keys[0].id);
    const status = await cli(["keys", "status"]);
    expect(status.output).toContain(`current ${after.keys[0].id}`);
    expect(status.output).not.toContain(before.keys[0].id);
    await system.restart();
    await say(4, "keyhash");
    await waitCount(tg(4), `keyhash:${hash(KEY4)}`, 3);
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
    const { store } = await openStore(config.database, {
      secrets: loadSecrets(config, { create: true }).box,
    });
    const user = await store.identities.resolveUser({ platform: "telegram", platformUserId: "42" });
    await store.credentials.put({ userId: user.id, slot: "claude", kind: "anthropic_api_key", value: KEY4 });
    await store.close();
    const other = randomBytes(32).toString("base64");
    const serve = await runCli(["serve"], { ...env, CLOUDCLAUDE_MASTER_KEY: other });
    expect(serve.code).toBe(1);
    expect(serve.output).toContain("which this server does not have");
    const otherEnv = { ...env, CLOUDCLAUDE_MASTER_KEY: other };
    const lost = (await runCli(["keys", "status"], env)).output.match(/current (k[0-9a-f]{12})/)?.[1] ?? "";
    const list = await runCli(["keys", "forget-unreadable"], otherEnv);
    expect(list.code).toBe(1);
    expect(list.output).toContain(`${lost}: 1 unreadable credential(s)`);
    expect((await runCli(["keys", "forget-unreadable", "--key", lost], otherEnv)).code).toBe(1);
    const forget = await runCli(["keys", "forget-unreadable", "--key", lost, "--yes"], otherEnv);
    expect(forget.output).toContain(`deleted 1 unreadable credential(s) under ${lost}`);
  }, 30_000);

  it("keys status and forget-unreadable never create a key file", async () => {
    const { mkdtemp, readdir: list } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dataDir = await mkdtemp(path.join(tmpdir(), "cc-keys-none-"));
    const env = { CLOUDCLAUDE_DATA_DIR: dataDir };
    const status = await runCli(["keys", "status"], env);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toContain("master key: none yet");
    expect((await runCli(["keys", "forget-unreadable"], env)).output).toContain(
      "every credential is readable",
    );
    const rotate = await runCli(["keys", "rotate"], env);
    expect(rotate.code).toBe(1);
    expect(rotate.output).toContain("no master key file");
    expect(await list(dataDir)).not.toContain("keys");
  }, 30_000);
});
