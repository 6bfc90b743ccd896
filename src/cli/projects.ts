import type { Command } from "commander";
import { pino } from "pino";
import { createBuildService } from "../build/index.ts";
import type { Config } from "../config/index.ts";
import { createOutbox } from "../delivery/index.ts";
import { ProjectError, ProjectOps } from "../projects/operations.ts";
import { message } from "../router/messages.ts";
import { type TurnReply, TurnStore } from "../router/turn-store.ts";
import { createLogger } from "../shared/logger.ts";
import { type OpenedStore, PLATFORMS, type Platform, type Project, type Store } from "../store/index.ts";
import { createVmManager } from "../vm/docker/pool.ts";
import { projectAgent } from "../vm/names.ts";
import type { ContainerRuntime } from "../vm/port.ts";
import { registerBuildCommand } from "./build.ts";
import { withStore } from "./with-store.ts";

/**
 * `cloudclaude projects …`: the operator's side of what people do from chat (src/projects): create
 * projects, build their environments, bind conversations, manage members, delete. The operator acts on
 * the owner's behalf; the chats affected are told through the outbox (a running server delivers it).
 */
export function registerProjectCommands(program: Command, load: () => Config): void {
  const projects = program
    .command("projects")
    .description("Projects: environments, the conversations bound to them, their members.");

  projects
    .command("ls")
    .description("List projects: owner, repository, environment revision, bound conversations.")
    .action(() =>
      withStore(load(), async ({ store }) => {
        const all = await store.projects.list();
        if (all.length === 0) console.log("no projects yet");
        for (const p of all) {
          const bound = (await store.projects.bindingsOf(p.id)).map((b) => b.conversationKey);
          console.log(
            [
              p.name,
              projectAgent(p.id),
              `owner=${p.ownerUserId}`,
              p.repoUrl ? `${p.repoUrl}${p.branch ? `#${p.branch}` : ""}` : "",
              p.revision ? `env=${p.revision}` : "env=none",
              bound.length > 0 ? `bound=${bound.join(",")}` : "",
            ]
              .filter(Boolean)
              .join("  "),
          );
        }
      }),
    );

  projects
    .command("create")
    .description("Create a project owned by a chat identity.")
    .argument("<name>", "a-z, 0-9 and -")
    .requiredOption("--owner <platform:userId>", "the owner's chat identity, e.g. telegram:1001")
    .option("--repo <url>", "the repository the environment is built from and the VM works in")
    .option("--branch <branch>", "the branch (default: the repository's default branch)")
    .action((name: string, options: { owner: string; repo?: string; branch?: string }) =>
      withOps(load(), async ({ ops, store }) => {
        const owner = await ownerOf(store, options.owner);
        const project = await ops.create(owner, { name, repo: options.repo, branch: options.branch });
        console.log(
          `created ${project.name} (VM vm-${project.id}); next: cloudclaude projects build ${project.name}`,
        );
      }),
    );

  registerBuildCommand(projects, load);

  projects
    .command("bind")
    .description("Send a conversation's messages to a project's VM (the chat is told).")
    .argument("<name>", "the project")
    .argument("<conversation-key>", "e.g. telegram:-1001234567 or slack:T01:C02:1700000000.000100")
    .action((name: string, conversationKey: string) =>
      withOps(load(), async ({ ops, store }) => {
        const project = await byName(store, name);
        // Unlike a person in chat, the operator may bind a conversation nobody has written in yet.
        if (!(await store.conversations.get(conversationKey))) {
          await store.projects.bind(conversationKey, project.id, project.ownerUserId);
        } else {
          await ops.bind(
            project.ownerUserId,
            name,
            conversationKey,
            "the operator",
            `cli:bind:${Date.now()}`,
          );
        }
        console.log(`${conversationKey} → ${name}`);
      }),
    );

  projects
    .command("unbind")
    .description("Return a conversation to the senders' switchboards (the chat is told).")
    .argument("<conversation-key>")
    .action((conversationKey: string) =>
      withOps(load(), async ({ ops, store }) => {
        const binding = await store.projects.bindingOf(conversationKey);
        if (!binding) return console.log("was not bound");
        await ops.unbind(binding.boundByUserId, conversationKey, "the operator", `cli:unbind:${Date.now()}`);
        console.log("unbound");
      }),
    );

  projects
    .command("members")
    .description("List a project's members, or add / remove one.")
    .argument("<name>", "the project")
    .option("--add <platform:userId>", "let this person use the project")
    .option("--remove <platform:userId>", "take their access away")
    .action((name: string, options: { add?: string; remove?: string }) =>
      withOps(load(), async ({ ops, store }) => {
        const owner = (await byName(store, name)).ownerUserId;
        if (options.add) console.log(`added ${(await ops.addMember(owner, name, options.add)).person}`);
        if (options.remove)
          console.log(`removed ${(await ops.removeMember(owner, name, options.remove)).person}`);
        const list = await ops.members(owner, name);
        console.log(`owner: ${list.owner}`);
        console.log(`members: ${list.members.join(", ") || "none"}`);
      }),
    );

  projects
    .command("rm")
    .description("Delete a project: its VM, its disk and its bindings (the bound chats are told).")
    .argument("<name>", "the project")
    .option("--yes", "confirm: the VM's disk, with any uncommitted work, is gone for good")
    .action((name: string, options: { yes?: boolean }) =>
      withOps(load(), async ({ ops, store }) => {
        const project = await byName(store, name);
        if (!options.yes)
          throw new Error(`deleting ${name} removes its VM and disk for good; add --yes to confirm`);
        const { unbound } = await ops.deleteProject(project.ownerUserId, name, name);
        console.log(`deleted ${name}${unbound > 0 ? `; ${unbound} bound conversation(s) told` : ""}`);
      }),
    );
}

/**
 * The project operations for one CLI command: the VM Manager when agents run in Docker (the process
 * runtime's agents belong to the server process, so the CLI cannot reach them), announcements through the
 * outbox, which the server delivers.
 */
async function withOps(
  config: Config,
  run: (ctx: { ops: ProjectOps; store: Store; opened: OpenedStore }) => Promise<void>,
): Promise<void> {
  await withStore(config, async (opened) => {
    const { store, handle } = opened;
    const logger = createLogger({
      level: "warn",
      name: "cloudclaude-cli",
      destination: pino.destination({ dest: 2, sync: true }),
    });
    const runtime: ContainerRuntime | undefined =
      config.agents.runtime === "docker" ? createVmManager(config.docker, handle.db, logger) : undefined;
    const outbox = createOutbox(handle);
    const turns = new TurnStore(handle.db);
    // Never started here (no workers): for removing a deleted project's images from the build host.
    const builds = runtime
      ? createBuildService(config, { db: handle.db, store, outbox, kickDelivery: () => {}, logger })
      : undefined;
    const ops = new ProjectOps({
      store,
      runtime: runtime ?? noRuntime,
      builds,
      // The server's open turns, from the database: a VM in the middle of one is not stopped or deleted.
      busyAgents: () => turns.busyAgents(config.agents.turnTimeoutMs + 5 * 60_000),
      // The server holds the bridges; its next message to a removed VM finds it gone and starts afresh.
      dropConnection: async () => {},
      wake: async () => {
        throw new Error("start the VM by sending it a message, or with `cloudclaude vm start`");
      },
      announce: async (conversationKey, key, msg, params) => {
        const to = await store.conversations.replyOf<TurnReply>(conversationKey);
        if (!to) return;
        await outbox.enqueue({
          idempotencyKey: key,
          platform: to.platform,
          conversationKey,
          reply: to.reply,
          inboundReceivedAt: to.inboundReceivedAt,
          text: message(to.language, msg, params),
        });
      },
    });
    try {
      await run({ ops, store, opened });
    } catch (error) {
      if (error instanceof ProjectError) throw new Error(message("en", error.key, error.params));
      throw error;
    }
  });
}

/** With the process runtime there is no VM for the CLI to touch: inspecting finds none, removing does nothing. */
const noRuntime: ContainerRuntime = {
  kind: "process",
  ensureRunning: async () => {
    throw new Error("the CLI cannot start agents of the process runtime");
  },
  openBridge: async () => {
    throw new Error("the CLI cannot reach agents of the process runtime");
  },
  stop: async () => {},
  remove: async () => {},
  markActive: async () => false,
  inspect: async () => undefined,
  list: async () => [],
  close: async () => {},
};

async function byName(store: Store, name: string): Promise<Project> {
  const project = await store.projects.byName(name);
  if (!project) throw new Error(`no project named ${name} (cloudclaude projects ls lists them)`);
  return project;
}

async function ownerOf(store: Store, identity: string): Promise<string> {
  const [platform, ...rest] = identity.split(":");
  if (!PLATFORMS.includes(platform as Platform) || rest.length === 0) {
    throw new Error(`--owner must be platform:userId with platform one of ${PLATFORMS.join(", ")}`);
  }
  const owner = await store.identities.resolveUser({
    platform: platform as Platform,
    platformUserId: rest.join(":"),
  });
  return owner.id;
}
