// Baseline: @line/bot-sdk's signature middleware on Express with a no-op handler. Listens on $PORT.
import { middleware } from "@line/bot-sdk";
import express from "express";
import { LINE_TEST_SECRET } from "../../../test/support/webhooks/line.ts";

const app = express();
app.post("/webhooks/line", middleware({ channelSecret: LINE_TEST_SECRET }), (_req, res) => {
  res.sendStatus(200);
});
app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
