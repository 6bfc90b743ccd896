/**
 * A dispatcher in a process of its own, for the crash tests: it sends from the SQLite outbox at
 * `CC_TEST_DB` to the simulator at `CC_TEST_SIM_URLS` (JSON of `baseUrls()`) until it is killed.
 */
import { openStore } from "../../store/index.ts";
import { OutboxDispatcher } from "../dispatcher.ts";
import { createOutbox } from "../outbox.ts";
import { createSenders } from "../senders/index.ts";
import { WebchatHub } from "../webchat-hub.ts";
import { simulatedPlatforms } from "./harness.ts";

const db = process.env.CC_TEST_DB;
const urls = process.env.CC_TEST_SIM_URLS;
if (!db || !urls) throw new Error("CC_TEST_DB and CC_TEST_SIM_URLS are required");

const { handle } = await openStore({ kind: "sqlite", path: db });
const dispatcher = new OutboxDispatcher({
  outbox: createOutbox(handle),
  senders: createSenders(simulatedPlatforms(JSON.parse(urls)), new WebchatHub()),
  pollIntervalMs: 20,
  sendTimeoutMs: Number(process.env.CC_TEST_SEND_TIMEOUT_MS ?? 5_000),
  leaseMs: Number(process.env.CC_TEST_LEASE_MS ?? 6_000),
  owner: `child:${process.pid}`,
});
dispatcher.start();
process.stdout.write("ready\n");
