import { createTempDatabase } from "../../test/support/postgres.ts";
import { describeOutboxContract } from "./outbox.contract.ts";

describeOutboxContract("PostgreSQL", async () => {
  const temp = await createTempDatabase();
  return { database: { kind: "postgres", url: temp.url }, dispose: () => temp.drop() };
});
