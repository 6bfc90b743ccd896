import type { Migration } from "./index.ts";

/**
 * `builds.request_key`: what asked for a build (`cmd:<inbox item>`, `tool:<agent>:<call id>`), unique, so a
 * request handled again after a crash (an inbox item redelivered, a tool call replayed) finds its build
 * instead of queueing a second one. Null for requests that cannot repeat themselves (the CLI).
 */
export const buildRequestKeys: Migration = {
  name: "0013_build_request_keys",
  async up(db) {
    await db.schema.alterTable("builds").addColumn("request_key", "text").execute();
    await db.schema.createIndex("builds_request_key").unique().on("builds").column("request_key").execute();
  },
};
