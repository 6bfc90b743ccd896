import type { Command } from "commander";
import { pino } from "pino";
import type { Config } from "../config/index.ts";
import { createLogger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import { parseHostList } from "../vm/docker/connection.ts";
import { createVmManager } from "../vm/docker/pool.ts";
import type { VmManager } from "../vm/manager.ts";
import { projectAgent } from "../vm/names.ts";
import { withStore } from "./with-store.ts";

/**
 * `cloudclaude vm …` and `cloudclaude hosts …`: the VM Manager from the command line (Docker runtime).
 * Agents are named `sb-<user id>` (switchboards) and `vm-<project id>` (project VMs); a project's name
 * works too.
 */
export function registerVmCommands(program: Command, load: () => Config): void {
  const vm = program.command("vm").description("Switchboards and project VMs (CLOUDCLAUDE_RUNTIME=docker).");

  vm.command("ls")
    .description("List agents: state, host, last activity.")
    .action(() =>
      withManager(load(), async ({ manager, store }) => {
        const names = new Map((await store.projects.list()).map((p) => [projectAgent(p.id), p.name]));
        const all = await manager.list();
        if (all.length === 0) console.log("no agents yet");
        for (const a of all) {
          const project = names.get(a.name);
          const idle = a.lastActiveAt ? `active ${ago(Date.now() - a.lastActiveAt)} ago` : "";
          const why = a.state === "stopped" && a.reason ? ` (${a.reason})` : "";
          console.log(
            [a.name, project ?? "", `${a.state}${why}`, `host=${a.host}`, idle].filter(Boolean).join("  "),
          );
        }
      }),
    );

  vm.command("start")
    .description("Start an agent's existing container.")
    .argument("<agent>", "sb-<id>, vm-<id> or a project name")
    .action((name: string) =>
      withManager(load(), async ({ manager, store }) => {
        const agent = await resolveAgent(store, name);
        await manager.start(agent);
        console.log(`${agent} running`);
      }),
    );

  vm.command("stop")
    .description("Stop an agent (its disk stays; its next message starts it).")
    .argument("<agent>", "sb-<id>, vm-<id> or a project name")
    .action((name: string) =>
      withManager(load(), async ({ manager, store }) => {
        const agent = await resolveAgent(store, name);
        await manager.stop(agent, { reason: "manual" });
        console.log(`${agent} stopped`);
      }),
    );

  vm.command("rm")
    .description("Remove an agent's container; with --volume also its disk (repos and conversations).")
    .argument("<agent>", "sb-<id>, vm-<id> or a project name")
    .option("--volume", "also delete the volume: everything the agent had is gone")
    .option("--yes", "confirm deleting the volume")
    .action((name: string, options: { volume?: boolean; yes?: boolean }) =>
      withManager(load(), async ({ manager, store }) => {
        const agent = await resolveAgent(store, name);
        if (options.volume && !options.yes) {
          throw new Error(`--volume deletes ${agent}'s disk for good; add --yes to confirm`);
        }
        await manager.remove(agent, { volume: options.volume ?? false, reason: "manual" });
        console.log(`${agent} removed${options.volume ? " with its volume" : " (volume kept)"}`);
      }),
    );

  const hosts = program.command("hosts").description("The pool of Docker hosts (CLOUDCLAUDE_DOCKER_HOSTS).");
  hosts
    .command("ls")
    .description("List the hosts: whether they answer, agents awake / capacity.")
    .action(() =>
      withManager(load(), async ({ manager, config }) => {
        const urls = new Map(parseHostList(config.docker.hosts).map((h) => [h.name, h.url]));
        const load = await manager.records.loadByHost();
        for (const host of manager.hosts) {
          const up = await host.ping();
          const version = up ? (await host.docker.version()).Version : "";
          console.log(
            [
              host.name,
              urls.get(host.name),
              up ? `up (Docker ${version})` : "NOT ANSWERING",
              `${load.get(host.name) ?? 0}/${config.docker.capacityPerHost} awake`,
            ].join("  "),
          );
        }
      }),
    );
}

async function withManager(
  config: Config,
  run: (ctx: { manager: VmManager; store: Store; config: Config }) => Promise<void>,
): Promise<void> {
  if (config.agents.runtime !== "docker") {
    throw new Error("these commands manage Docker agents: set CLOUDCLAUDE_RUNTIME=docker");
  }
  await withStore(config, async ({ store, handle }) => {
    const logger = createLogger({
      level: "warn",
      name: "cloudclaude-cli",
      destination: pino.destination({ dest: 2, sync: true }),
    });
    const manager = createVmManager(config.docker, handle.db, logger);
    for (const host of manager.hosts) manager.setHostUp(host.name, await host.ping());
    await run({ manager, store, config });
  });
}

async function resolveAgent(store: Store, name: string): Promise<string> {
  if (/^(sb|vm)-/.test(name)) return name;
  const project = await store.projects.byName(name);
  if (!project) throw new Error(`no agent or project named ${name}`);
  return projectAgent(project.id);
}

function ago(ms: number): string {
  if (ms < 90_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)}min`;
  return `${Math.round(ms / 3_600_000)}h`;
}
