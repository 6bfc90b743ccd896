// Baseline: @slack/bolt's HTTPReceiver with a no-op handler; nothing is persisted. Listens on $PORT.
import bolt from "@slack/bolt";
import { SLACK_TEST_BOT_USER_ID, SLACK_TEST_SIGNING_SECRET } from "../../../test/support/webhooks/slack.ts";

const receiver = new bolt.HTTPReceiver({
  signingSecret: SLACK_TEST_SIGNING_SECRET,
  endpoints: "/webhooks/slack",
});
const app = new bolt.App({
  receiver,
  // No token: an authorize function that needs no network.
  authorize: async () => ({ botToken: "xoxb-bench", botId: "B0BENCH", botUserId: SLACK_TEST_BOT_USER_ID }),
  logLevel: bolt.LogLevel.ERROR,
});
app.event("app_mention", async () => {});
app.event("message", async () => {});
await app.start({ port: Number(process.env.PORT), host: "127.0.0.1" });
console.log("ready");
