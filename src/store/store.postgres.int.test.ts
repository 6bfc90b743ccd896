import { createTempDatabase } from "../../test/support/postgres.ts";
import { describeStoreContract } from "./store.contract.ts";

describeStoreContract("PostgreSQL", async () => {
  const temp = await createTempDatabase();
  return { database: { kind: "postgres", url: temp.url }, dispose: () => temp.drop() };
});
