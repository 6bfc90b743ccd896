import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";

/** How long a server's presence row lasts without renewal; renewed every third of it. */
export const PRESENCE_TTL_MS = 30_000;
const SERVER_PREFIX = "server:";
const ROTATION = "keys-rotate";

/**
 * Who holds the master keys right now, in the `leases` table: each running server keeps a row
 * `server:<host>:<pid>:<random>` alive, and `keys rotate` holds `keys-rotate` while it works. Rotation
 * refuses to start while a server is running (it would keep sealing under the old key, or find credentials
 * under a key it lacks), and a server refuses to start while a rotation runs. Each side writes its own row
 * first and then looks for the other's, so of a server and a rotation starting together at least one sees
 * the other. A row whose process died lapses after `PRESENCE_TTL_MS`.
 */
export class KeyHolders {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Registers a running server; throws when a rotation is under way. Call `stop()` at shutdown. */
  async serve(): Promise<{ stop(): Promise<void> }> {
    const name = `${SERVER_PREFIX}${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    await this.#put(name);
    const rotation = await this.#live(ROTATION);
    if (rotation.length > 0) {
      await this.#drop(name);
      throw new Error(
        "`cloudclaude keys rotate` is running on this database; start the server when it is done",
      );
    }
    const timer = setInterval(() => {
      this.#put(name).catch(() => {});
    }, PRESENCE_TTL_MS / 3);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await this.#drop(name);
      },
    };
  }

  /** Runs `work` holding the rotation row; throws, doing nothing, while any server is running. */
  async rotate<T>(work: () => Promise<T>): Promise<T> {
    await this.#put(ROTATION);
    try {
      const servers = await this.#live(SERVER_PREFIX);
      if (servers.length > 0) {
        throw new Error(
          `a server is running on this database (${servers.join(", ")}): stop it first, then rotate. ` +
            `(A server that crashed stops counting ${PRESENCE_TTL_MS / 1000} s after its last sign of life.)`,
        );
      }
      return await work();
    } finally {
      await this.#drop(ROTATION);
    }
  }

  /** Names of unexpired rows starting with `prefix`, their holder shown without the random suffix. */
  async #live(prefix: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom("leases")
      .select(["name", "holder"])
      .where("name", "like", `${prefix}%`)
      .where("expires_at", ">", this.#now())
      .execute();
    return rows.map((r) => r.holder);
  }

  async #put(name: string): Promise<void> {
    const expires = this.#now() + PRESENCE_TTL_MS;
    const holder = `${hostname()} pid ${process.pid}`;
    await this.#db
      .insertInto("leases")
      .values({ name, holder, expires_at: expires })
      .onConflict((oc) => oc.column("name").doUpdateSet({ holder, expires_at: expires }))
      .execute();
  }

  async #drop(name: string): Promise<void> {
    await this.#db.deleteFrom("leases").where("name", "=", name).execute();
  }
}
