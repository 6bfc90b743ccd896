import { Command, CommanderError, Option } from "commander";
import { ConfigError, describeConfig, type LoadedConfig, loadConfig } from "../config/index.ts";
import { errorMessage } from "../shared/errors.ts";
import { createLogger } from "../shared/logger.ts";
import { migrateToLatest, openDatabase } from "../store/index.ts";
import { registerImageCommands } from "./images.ts";
import { registerInboxCommands } from "./inbox.ts";
import { registerKeyCommands } from "./keys.ts";
import { registerProjectCommands } from "./projects.ts";
import { runServe } from "./serve.ts";
import { registerSetupCommands } from "./setup.ts";
import { registerUserCommands } from "./users.ts";
import { registerVmCommands } from "./vm.ts";

const program = new Command("cloudclaude")
  .description("CloudClaude: Claude Code from LINE, Slack, Discord and Telegram.")
  .option("-c, --config <file>", "dotenv-format config file (default: ./.env when present); environment wins")
  .showHelpAfterError()
  .exitOverride();

function load(): LoadedConfig {
  const { config: file } = program.opts<{ config?: string }>();
  return loadConfig({ env: process.env, cwd: process.cwd(), file });
}

program
  .command("serve")
  .description("Run everything in one process: webhooks, router, agents, delivery, console.")
  .addOption(
    new Option("--role <role>", "all, or ingress only (scaled deployments, sharing a PostgreSQL inbox)")
      .choices(["all", "ingress"])
      .default("all"),
  )
  .action(async (options: { role: "all" | "ingress" }) => {
    const { config } = load();
    await runServe(config, createLogger({ level: config.log.level }), options.role);
  });

const configCommand = program.command("config").description("Inspect the configuration.");
configCommand
  .command("check")
  .description("Validate the configuration and print the effective values, secrets masked.")
  .action(() => {
    const loaded = load();
    for (const line of describeConfig(loaded)) console.log(line);
    console.log("\nconfiguration OK");
  });

program
  .command("migrate")
  .description("Apply pending database migrations and exit (serve also does this on start).")
  .action(async () => {
    const { config } = load();
    const handle = openDatabase(config.database);
    try {
      const { applied } = await migrateToLatest(handle);
      console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
    } finally {
      await handle.db.destroy();
    }
  });

registerInboxCommands(program, () => load().config);
registerSetupCommands(program, () => load().config);
registerProjectCommands(program, () => load().config);
registerUserCommands(program, () => load().config);
registerKeyCommands(program, () => load().config);
registerImageCommands(program);
registerVmCommands(program, () => load().config);

program
  .command("agent")
  .description(
    "Run inside a switchboard or VM: `agent daemon` (the agent) or `agent bridge` (the router's link).",
  )
  .helpOption(false)
  .allowUnknownOption()
  .argument("[args...]")
  .action(async (args: string[]) => {
    // The agent side reads its own small environment; it never loads the control plane's config.
    const { agentMain } = await import("../agent/cli.ts");
    process.exitCode = await agentMain(args, process.env);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors were already printed by commander.
    process.exitCode = error.exitCode;
  } else if (error instanceof ConfigError) {
    for (const problem of error.problems) console.error(`config error: ${problem}`);
    process.exitCode = 2;
  } else {
    console.error(`cloudclaude: ${errorMessage(error)}`);
    process.exitCode = 1;
  }
}
