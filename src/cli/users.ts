import type { Command } from "commander";
import { pino } from "pino";
import type { Config } from "../config/index.ts";
import { standingOfUser } from "../identity/access.ts";
import { stopAgentsOf } from "../identity/agents.ts";
import { TurnStore } from "../router/turn-store.ts";
import { createLogger } from "../shared/logger.ts";
import { type OpenedStore, PLATFORMS, type Platform, type Store, type User } from "../store/index.ts";
import { createVmManager } from "../vm/docker/pool.ts";
import { withStore } from "./with-store.ts";

/**
 * `cloudclaude users …`: who uses this server. A person is named by a user id (from `users ls`) or by
 * any of their chat identities (`telegram:1001`).
 */
export function registerUserCommands(program: Command, load: () => Config): void {
  const users = program
    .command("users")
    .description("People using this server: list, admit, suspend, remove.");

  users
    .command("ls")
    .description("List people: identities, access, credentials (kinds only, never values).")
    .action(() =>
      withStore(load(), async ({ store }) => {
        const config = load();
        const all = await store.users.list();
        let shown = 0;
        for (const user of all) {
          const s = await standingOfUser(store, config.agents, user);
          if (s.identities.length === 0 && !s.access) continue; // a detached leftover with nothing on it
          const credentials = await store.credentials.list(user.id);
          const status = s.suspended
            ? "suspended"
            : s.access?.status === "removed"
              ? "removed"
              : s.member
                ? "active"
                : "not admitted";
          const creds = credentials.map((c) => `${c.kind}${c.status === "rejected" ? "(rejected)" : ""}`);
          console.log(
            [
              user.id,
              s.identities.map((i) => `${i.platform}:${i.platformUserId}`).join(",") || "-",
              status,
              s.admin ? "admin" : "",
              s.serverCredential ? "server-credential" : "",
              creds.length > 0 ? `credentials=${creds.join(",")}` : "no-credential",
            ]
              .filter((x) => x !== "")
              .join("  "),
          );
          shown++;
        }
        if (shown === 0) console.log("no users yet");
      }),
    );

  users
    .command("allow")
    .description("Admit a person (the allowlist), creating them if they never wrote yet.")
    .argument("<who>", "platform:userId (e.g. telegram:1001) or a user id")
    .option("--server-credential", "let the server's own Claude credential serve them (operator mode)")
    .action((who: string, options: { serverCredential?: boolean }) =>
      withStore(load(), async ({ store }) => {
        const user = await find(store, who, { create: true });
        await store.access.set(user.id, {
          status: "active",
          ...(options.serverCredential !== undefined && { serverCredential: true }),
        });
        console.log(
          `${who} may use this server${options.serverCredential ? " with the server's credential" : ""}`,
        );
      }),
    );

  users
    .command("suspend")
    .description(
      "Suspend a person: their messages, commands, approvals and /connect links are refused until reinstated; their idle agents are stopped.",
    )
    .argument("<who>", "platform:userId or a user id")
    .action((who: string) =>
      withStore(load(), async (opened) => {
        const user = await find(opened.store, who);
        await opened.store.access.set(user.id, { status: "suspended" });
        await withdrawCodes(opened.store, user.id);
        console.log(`${who} suspended: nothing they send is handled, their open codes are withdrawn`);
        console.log(await stopAgents(load(), opened, user.id, "suspended"));
      }),
    );

  users
    .command("reinstate")
    .description("Lift a suspension.")
    .argument("<who>", "platform:userId or a user id")
    .action((who: string) =>
      withStore(load(), async ({ store }) => {
        const user = await find(store, who);
        await store.access.set(user.id, { status: "active" });
        console.log(`${who} reinstated`);
      }),
    );

  users
    .command("remove")
    .description(
      "Remove a person: their credentials and open codes are deleted, their idle agents stopped, and they are refused (in every access mode) until `users allow` admits them again.",
    )
    .argument("<who>", "platform:userId or a user id")
    .action((who: string) =>
      withStore(load(), async (opened) => {
        const user = await find(opened.store, who);
        await opened.store.access.removeUser(user.id);
        console.log(
          `${who} removed (user ${user.id}): refused until \`users allow\`; projects they own remain until deleted`,
        );
        console.log(await stopAgents(load(), opened, user.id, "removed"));
      }),
    );
}

/** Withdraws every code a person holds: their /connect link, /link code and /invite codes stop working. */
async function withdrawCodes(store: Store, userId: string): Promise<void> {
  for (const purpose of ["connect", "link", "invite"] as const) await store.codes.revoke(userId, purpose);
}

/**
 * Stops the person's running agents (Docker runtime), leaving those with a running turn alone (it ends,
 * and the agent sleeps when idle). With the process runtime the agents are the server's children, which
 * this command cannot reach: they go to sleep when idle, and nothing the person sends reaches them.
 */
async function stopAgents(
  config: Config,
  opened: OpenedStore,
  userId: string,
  reason: string,
): Promise<string> {
  if (config.agents.runtime !== "docker")
    return "agents: the process runtime's agents are the server's; they stop when idle";
  const logger = createLogger({
    level: "warn",
    name: "cloudclaude-cli",
    destination: pino.destination({ dest: 2, sync: true }),
  });
  const manager = createVmManager(config.docker, opened.handle.db, logger);
  for (const host of manager.hosts) manager.setHostUp(host.name, await host.ping());
  const turns = new TurnStore(opened.handle.db);
  const { stopped, busy } = await stopAgentsOf(
    {
      store: opened.store,
      runtime: manager,
      busyAgents: () => turns.busyAgents(config.agents.turnTimeoutMs + 5 * 60_000),
    },
    userId,
    reason,
  );
  return [
    `agents stopped: ${stopped.join(", ") || "none running"}`,
    ...(busy.length > 0
      ? [`left running (a turn in progress; they sleep when idle): ${busy.join(", ")}`]
      : []),
  ].join("\n");
}

/** The user named by `who`: a user id or a `platform:userId`. Throws a clear error when there is none. */
async function find(store: Store, who: string, options: { create?: boolean } = {}): Promise<User> {
  const [platform, ...rest] = who.split(":");
  if (rest.length > 0 && rest.join(":") !== "") {
    if (!PLATFORMS.includes(platform as Platform))
      throw new Error(`${who}: the platform must be one of ${PLATFORMS.join(", ")}`);
    const identity = { platform: platform as Platform, platformUserId: rest.join(":") };
    if (options.create) return store.identities.resolveUser(identity);
    const found = await store.identities.find(identity.platform, identity.platformUserId);
    const user = found && (await store.users.get(found.userId));
    if (!user) throw new Error(`no user has the identity ${who}`);
    return user;
  }
  const user = await store.users.get(who);
  if (!user) throw new Error(`no user with id ${who} (use platform:userId, or an id from \`users ls\`)`);
  return user;
}
