// Baseline: grammY's webhookCallback on node:http with a no-op handler. Listens on $PORT.
import { createServer } from "node:http";
import { Bot, webhookCallback } from "grammy";
import {
  TELEGRAM_TEST_BOT_ID,
  TELEGRAM_TEST_BOT_TOKEN,
  TELEGRAM_TEST_BOT_USERNAME,
  TELEGRAM_TEST_SECRET,
} from "../../../test/support/webhooks/telegram.ts";

// botInfo given up front, so grammY never calls getMe (no network).
const bot = new Bot(TELEGRAM_TEST_BOT_TOKEN, {
  botInfo: {
    id: TELEGRAM_TEST_BOT_ID,
    is_bot: true,
    first_name: "Bench",
    username: TELEGRAM_TEST_BOT_USERNAME,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  },
});
bot.on("message", () => {});
const handle = webhookCallback(bot, "http", { secretToken: TELEGRAM_TEST_SECRET });
createServer((req, res) => {
  if (req.url === "/webhooks/telegram") void handle(req, res);
  else res.writeHead(404).end();
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
