import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium, headless, with the flags that keep it off the network (this machine has none). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  try {
    return await chromium.launch({
      executablePath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (error) {
    throw new Error(
      `Chromium is required for this test (${executablePath}): ${(error as Error).message}. scripts/test.sh installs Debian's chromium.`,
    );
  }
}
