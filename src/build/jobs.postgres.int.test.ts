import { createTempDatabase } from "../../test/support/postgres.ts";
import { describeBuildJobsContract } from "./jobs.contract.ts";

describeBuildJobsContract("PostgreSQL", async () => {
  const temp = await createTempDatabase();
  return { database: { kind: "postgres", url: temp.url }, dispose: () => temp.drop() };
});
