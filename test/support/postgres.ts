import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A throwaway PostgreSQL database per test file on the server the tests are given
 * (`CLOUDCLAUDE_TEST_POSTGRES_URL`, default the development machines' trust-auth server). When the server
 * is unreachable this throws with the fix: a missing service fails the run, it is never skipped.
 */
export const TEST_POSTGRES_URL =
  process.env.CLOUDCLAUDE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TempDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export async function createTempDatabase(prefix = "cc_test"): Promise<TempDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for this test but ${TEST_POSTGRES_URL} is unreachable (${(error as Error).message}). ` +
        "Start it (scripts/test.sh does) or set CLOUDCLAUDE_TEST_POSTGRES_URL.",
    );
  }
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
