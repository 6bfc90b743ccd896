import type { RouterContext } from "./context.ts";

/**
 * The control plane's side of the switchboard tools: a switchboard calls one over the bridge (`tool_call`)
 * and we run it here with the authority of the user who owns that switchboard (never more). The container
 * holds no credential to the control plane. The tool names and schemas Claude sees are declared by the
 * daemon (`src/agent/switchboard-tools.ts`).
 */
export async function runSwitchboardTool(
  ctx: RouterContext,
  userId: string,
  name: string,
  _input: unknown,
): Promise<{ ok: boolean; output: string }> {
  switch (name) {
    case "account_status": {
      const { store, runtime, agents } = ctx.deps;
      const user = await store.users.get(userId);
      if (!user) return { ok: false, output: "unknown user" };
      const identities = await store.identities.listForUser(userId);
      const agent = await runtime.inspect(ctx.switchboardName(user));
      const ids = identities.map((i) => `${i.platform}:${i.platformUserId}`);
      return {
        ok: true,
        output: JSON.stringify({
          userId,
          displayName: user.displayName,
          identities: ids,
          switchboard: agent ? { name: agent.name, state: agent.state } : null,
          serverCredential: ids.some((id) => agents.admins.includes(id)),
          runtime: runtime.kind,
        }),
      };
    }
    default:
      return { ok: false, output: `unknown tool ${name}` };
  }
}
