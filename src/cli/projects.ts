import type { Command } from "commander";
import type { Config } from "../config/index.ts";
import { PLATFORMS, type Platform } from "../store/index.ts";
import { withStore } from "./with-store.ts";

/**
 * `cloudclaude projects …`: create projects and bind conversations to them by hand. (Creating them from
 * chat, with a repo and a built environment, is the switchboard's job.)
 */
export function registerProjectCommands(program: Command, load: () => Config): void {
  const projects = program.command("projects").description("Projects and the conversations bound to them.");

  projects
    .command("ls")
    .description("List projects.")
    .action(() =>
      withStore(load(), async ({ store }) => {
        const all = await store.projects.list();
        if (all.length === 0) console.log("no projects yet");
        for (const p of all)
          console.log(`${p.name}  vm-${p.id}  owner=${p.ownerUserId}${p.repoUrl ? `  ${p.repoUrl}` : ""}`);
      }),
    );

  projects
    .command("create")
    .description("Create a project owned by a chat identity.")
    .argument("<name>", "a-z, 0-9 and -")
    .requiredOption("--owner <platform:userId>", "the owner's chat identity, e.g. telegram:1001")
    .option("--repo <url>", "the repository the VM clones")
    .action((name: string, options: { owner: string; repo?: string }) =>
      withStore(load(), async ({ store }) => {
        const [platform, ...rest] = options.owner.split(":");
        if (!PLATFORMS.includes(platform as Platform) || rest.length === 0) {
          throw new Error(`--owner must be platform:userId with platform one of ${PLATFORMS.join(", ")}`);
        }
        const owner = await store.identities.resolveUser({
          platform: platform as Platform,
          platformUserId: rest.join(":"),
        });
        const project = await store.projects.create({
          name,
          ownerUserId: owner.id,
          repoUrl: options.repo ?? null,
        });
        console.log(`created ${project.name} (VM vm-${project.id})`);
      }),
    );

  projects
    .command("bind")
    .description("Send a conversation's messages to a project's VM.")
    .argument("<name>", "the project")
    .argument("<conversation-key>", "e.g. telegram:-1001234567 or slack:T01:C02:1700000000.000100")
    .action((name: string, conversationKey: string) =>
      withStore(load(), async ({ store }) => {
        const project = await store.projects.byName(name);
        if (!project) throw new Error(`no project named ${name}`);
        await store.projects.bind(conversationKey, project.id, project.ownerUserId);
        console.log(`${conversationKey} → ${name}`);
      }),
    );

  projects
    .command("unbind")
    .description("Return a conversation to the senders' switchboards.")
    .argument("<conversation-key>")
    .action((conversationKey: string) =>
      withStore(load(), async ({ store }) => {
        console.log((await store.projects.unbind(conversationKey)) ? "unbound" : "was not bound");
      }),
    );
}
