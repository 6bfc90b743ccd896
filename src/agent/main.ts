/**
 * `node src/agent/main.ts daemon|bridge …`: the agent commands without the control plane's CLI (what
 * `cloudclaude agent …` runs), for the container image and the tests.
 */
import { agentMain } from "./cli.ts";

// Reached directly (`node src/agent/main.ts daemon …`) or from bin/cloudclaude.js (`cloudclaude agent daemon …`).
const args = process.argv.slice(2);
process.exitCode = await agentMain(args[0] === "agent" ? args.slice(1) : args, process.env);
