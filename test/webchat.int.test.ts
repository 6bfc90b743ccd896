import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.ts";
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
