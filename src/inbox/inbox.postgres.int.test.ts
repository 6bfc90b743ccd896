import { createTempDatabase } from "../../test/support/postgres.ts";
import { describeInboxContract } from "./inbox.contract.ts";

describeInboxContract("PostgreSQL", async () => {
  const temp = await createTempDatabase();
  return { database: { kind: "postgres", url: temp.url }, dispose: () => temp.drop() };
});
