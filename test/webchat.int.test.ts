import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.ts";
import { runCli } from "./support/cli.ts";
import { E2eSystem } from "./support/e2e.ts";

/** The webchat in real headless Chromium: a person types, the switchboard answers, the reply streams in. */
describe("webchat in a browser", () => {
  let system: E2eSystem;
  let browser: Browser;
  beforeAll(async () => {
    system = await E2eSystem.start();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it("sends a message and shows the streamed answer, then keeps the session across a reload", async () => {
    const page = await browser.newPage();
    await page.goto(`${system.base}/`);
    await expect(page.title()).resolves.toBe("CloudClaude webchat");

    await page.fill("#text", "echo hi from the browser");
    await page.press("#text", "Enter");
    await page.locator(".msg.me", { hasText: "echo hi from the browser" }).waitFor();
    await page
      .locator(".msg.bot.final", { hasText: "echo: hi from the browser" })
      .waitFor({ timeout: 20_000 });

    // A slow answer is visible while it is being written, then becomes final.
    await page.fill("#text", "slow 8");
    await page.press("#text", "Enter");
    const streaming = page.locator(".msg.bot.streaming");
    await streaming.waitFor({ timeout: 20_000 });
    const partial = await streaming.textContent();
    await page.locator(".msg.bot.final", { hasText: "word8" }).waitFor({ timeout: 20_000 });
    expect(partial).toMatch(/^word1/);
    expect(partial).not.toContain("word8");

    // Same session after a reload: the agent remembers the conversation.
    await page.reload();
    await page.fill("#text", "history");
    await page.press("#text", "Enter");
    await page.locator(".msg.bot.final", { hasText: /^2$/ }).waitFor({ timeout: 20_000 });
    await page.close();
  }, 90_000);

  it("approves a tool request by button; a second press is answered and changes nothing", async () => {
    const page = await browser.newPage();
    await page.goto(`${system.base}/`);
    const session = await page.evaluate(() => localStorage.getItem("cloudclaude.session"));
    // A conversation bound to a project: its agent asks before running a command.
    const create = await runCli(["projects", "create", "webshop", "--owner", "webchat:local"], system.env);
    expect(create.code, create.output).toBe(0);
    const bind = await runCli(["projects", "bind", "webshop", `webchat:${session}`], system.env);
    expect(bind.code, bind.output).toBe(0);

    await page.fill("#text", "permission ls -la");
    await page.press("#text", "Enter");
    const prompt = page.locator(".msg.bot", { has: page.locator(".buttons button") });
    await prompt.waitFor({ timeout: 30_000 });
    await expect(prompt.locator(".buttons button").allTextContents()).resolves.toEqual([
      "Allow once",
      "Allow in this chat",
      "Deny",
    ]);
    await prompt.getByRole("button", { name: "Allow once" }).click();
    await page.locator(".msg.bot", { hasText: "ran ls -la" }).waitFor({ timeout: 30_000 });
    await page.locator(".msg.bot", { hasText: /Approved by/ }).waitFor({ timeout: 10_000 });

    // A second press (this time Deny) is answered politely and changes nothing.
    const before = await page.locator(".msg.bot").count();
    await prompt.getByRole("button", { name: "Deny" }).click();
    await page.locator(".msg.bot", { hasText: /Already answered: approved/ }).waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    const texts = await page.locator(".msg.bot").allTextContents();
    expect(texts.slice(before).join("\n")).not.toMatch(/Denied by|ran ls -la/);
    expect(texts.filter((t) => t.includes("ran ls -la"))).toHaveLength(1);

    // A made-up token is stale: answered, nothing runs.
    const forged = await page.evaluate(
      async (s) =>
        (
          await fetch("/webchat/api/actions", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ session: s, value: "approve:not-a-real-token" }),
          })
        ).status,
      session,
    );
    expect(forged).toBe(202);
    await page.locator(".msg.bot", { hasText: /no longer|stale|expired/i }).waitFor({ timeout: 20_000 });
    await runCli(["projects", "unbind", `webchat:${session}`], system.env);
    await page.close();
  }, 120_000);

  it("refuses a button press that is not JSON, cross-site, malformed or too large", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${system.base}/webchat/api/actions`, { method: "POST", headers, body });
    const json = { "content-type": "application/json" };
    const ok = JSON.stringify({ session: "abcdef12-0000", value: "approve:x" });
    expect((await post({ "content-type": "text/plain" }, ok)).status).toBe(415);
    expect((await post({ ...json, "sec-fetch-site": "cross-site" }, ok)).status).toBe(403);
    expect((await post(json, JSON.stringify({ session: "x", value: "" }))).status).toBe(400);
    const huge = JSON.stringify({ session: "abcdef12-0000", value: "x".repeat(10_000) });
    expect((await post(json, huge)).status).toBe(413);
  });

  it("refuses an empty or malformed message with a clear 400", async () => {
    const res = await fetch(`${system.base}/webchat/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session: "x", text: "" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "expected {session, text}" });
    // Other sites cannot post for the operator: no form/text posts, no cross-site requests.
    const text = await fetch(`${system.base}/webchat/api/messages`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ session: "abcdef12-0000", text: "hi" }),
    });
    expect(text.status).toBe(415);
    const crossSite = await fetch(`${system.base}/webchat/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "sec-fetch-site": "cross-site" },
      body: JSON.stringify({ session: "abcdef12-0000", text: "hi" }),
    });
    expect(crossSite.status).toBe(403);
    const huge = await fetch(`${system.base}/webchat/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session: "abcdef12-0000", text: "x".repeat(100_000) }),
    });
    expect(huge.status).toBe(413);
  });
});
