import { REST } from "@discordjs/rest";
import type { Command } from "commander";
import { Routes } from "discord-api-types/v10";
import type { Config } from "../config/index.ts";

/** The `/claude` slash command: Discord's HTTP interactions deliver it to POST /webhooks/discord. */
export const DISCORD_COMMANDS = [
  {
    name: "claude",
    description: "Ask Claude Code (your switchboard, or this channel's project)",
    description_localizations: { "zh-TW": "詢問 Claude Code（你的總機，或此頻道綁定的專案）" },
    type: 1,
    options: [
      {
        type: 3,
        name: "prompt",
        description: "What to ask or do",
        description_localizations: { "zh-TW": "要詢問或執行的內容" },
        required: true,
      },
    ],
  },
];

/** `cloudclaude setup …`: one-time registrations with the platforms. */
export function registerSetupCommands(program: Command, load: () => Config): void {
  const setup = program.command("setup").description("One-time registrations with the chat platforms.");
  setup
    .command("discord")
    .description(
      "Register the /claude slash command for the Discord application (global; may take a minute to appear).",
    )
    .action(async () => {
      const { discord } = load().platforms;
      if (!discord.botToken || !discord.applicationId) {
        throw new Error("setup discord needs DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID.");
      }
      const rest = new REST({ api: discord.apiUrl, timeout: 15_000 }).setToken(discord.botToken);
      const registered = (await rest.put(Routes.applicationCommands(discord.applicationId), {
        body: DISCORD_COMMANDS,
      })) as { name: string; id: string }[];
      for (const c of registered) console.log(`registered /${c.name} (${c.id})`);
      console.log(
        `Interactions endpoint to set in the Developer Portal: <CLOUDCLAUDE_PUBLIC_URL>/webhooks/discord`,
      );
    });
}
