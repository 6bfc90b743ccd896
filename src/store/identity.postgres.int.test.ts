import pg from "pg";
import { createTempDatabase } from "../../test/support/postgres.ts";
import { describeIdentityContract } from "./identity.contract.ts";

describeIdentityContract("PostgreSQL", async () => {
  const temp = await createTempDatabase();
  return {
    database: { kind: "postgres", url: temp.url },
    dispose: () => temp.drop(),
    // Every row of the tables that could hold a secret, as a dump would.
    raw: async () => {
      const client = new pg.Client({ connectionString: temp.url });
      await client.connect();
      try {
        const tables = ["credentials", "one_time_codes", "user_access", "identities"];
        const rows: unknown[] = [];
        for (const t of tables) rows.push((await client.query(`select * from ${t}`)).rows);
        return JSON.stringify(rows);
      } finally {
        await client.end();
      }
    },
  };
});
