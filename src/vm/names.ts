/**
 * Agent names: deterministic, so a retry after a lost response adopts what exists instead of creating a
 * twin, and a restarted control plane finds the agents that kept running. They appear in container and
 * volume names, so they stay within Docker's name alphabet.
 */
export const AGENT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A person's switchboard. */
export function switchboardAgent(userId: string): string {
  return `sb-${userId}`;
}

/** A project's VM. */
export function projectAgent(projectId: string): string {
  return `vm-${projectId}`;
}

/** The project a VM belongs to, or undefined for a switchboard. */
export function projectIdOf(agent: string): string | undefined {
  return agent.startsWith("vm-") ? agent.slice("vm-".length) : undefined;
}

export function agentKind(agent: string): "switchboard" | "project" {
  return projectIdOf(agent) === undefined ? "switchboard" : "project";
}
