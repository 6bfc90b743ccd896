import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The agent home: one directory that is the container's volume (mounted at a fixed absolute path in Docker;
 * a directory under the data dir in the process runtime). Everything the agent must keep lives here, so a
 * recreated container with the same volume resumes where the old one stopped.
 */
export interface AgentHomePaths {
  readonly home: string;
  /** CLAUDE_CONFIG_DIR: transcripts (`projects/`), `.claude.json`, settings, credentials. */
  readonly claudeConfig: string;
  /** The agent's cwd; the repository for a project VM. Must keep its absolute path across restarts. */
  readonly workspace: string;
  /** The daemon's own state. */
  readonly agentDir: string;
  /** Append-only NDJSON of AgentEvents (protocol.ts), fsync'd before any is sent to a bridge. */
  readonly eventsLog: string;
  /** Turn states (and the last seq) of events compacted out of the log after the router acked them. */
  readonly turnsSnapshot: string;
  readonly socket: string;
  readonly pidFile: string;
}

export function agentHomePaths(home: string): AgentHomePaths {
  const root = resolve(home);
  const agentDir = join(root, "agent");
  return {
    home: root,
    claudeConfig: join(root, "claude"),
    workspace: join(root, "workspace"),
    agentDir,
    eventsLog: join(agentDir, "events.log"),
    turnsSnapshot: join(agentDir, "turns.json"),
    socket: join(agentDir, "daemon.sock"),
    pidFile: join(agentDir, "daemon.pid"),
  };
}

export function ensureAgentHome(paths: AgentHomePaths): void {
  for (const dir of [paths.claudeConfig, paths.workspace, paths.agentDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}

/**
 * Unix socket paths are limited to 107 bytes on Linux (103 on macOS). A deeper home is reached relative to the
 * agent directory: both the daemon and the bridge then run with that directory as their cwd.
 */
const MAX_SOCKET_PATH = 100;

export function socketAddress(paths: AgentHomePaths): { path: string; cwd?: string } {
  if (Buffer.byteLength(paths.socket) <= MAX_SOCKET_PATH) return { path: paths.socket };
  return { path: "daemon.sock", cwd: paths.agentDir };
}
