import type { Store } from "../store/index.ts";
import { projectAgent, switchboardAgent } from "../vm/names.ts";
import type { ContainerRuntime } from "../vm/port.ts";

export interface StopAgentsDeps {
  readonly store: Store;
  readonly runtime: Pick<ContainerRuntime, "inspect" | "stop">;
  /** Agents with a running turn (`TurnStore.busyAgents`): left alone. */
  readonly busyAgents: () => Promise<ReadonlySet<string>>;
}

/**
 * Stops a person's running agents (their switchboard and the project VMs they own), e.g. after their
 * credential changed (so the next start gets the new one) or when they are suspended. An agent with a
 * running turn is left alone: stopping it would kill that turn. It picks the change up when it next
 * sleeps (the Docker runtime recreates a stopped container whose environment changed).
 */
export async function stopAgentsOf(
  deps: StopAgentsDeps,
  userId: string,
  reason: string,
): Promise<{ stopped: string[]; busy: string[] }> {
  const owned = (await deps.store.projects.list()).filter((p) => p.ownerUserId === userId);
  const busyNow = await deps.busyAgents();
  const stopped: string[] = [];
  const busy: string[] = [];
  for (const name of [switchboardAgent(userId), ...owned.map((p) => projectAgent(p.id))]) {
    if ((await deps.runtime.inspect(name))?.state !== "running") continue;
    if (busyNow.has(name)) {
      busy.push(name);
      continue;
    }
    await deps.runtime.stop(name, { reason });
    stopped.push(name);
  }
  return { stopped, busy };
}
