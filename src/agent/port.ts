/**
 * AgentRuntime: how the agent daemon hosts a coding agent. The Claude Agent SDK is the implementation
 * (`sdk-runtime.ts`); an ACP one can follow without touching the daemon. The daemon owns sessions, the
 * event log and the bridge; a runtime only turns one user turn into a stream of agent happenings.
 */
export type { AgentEvent, DaemonFrame, RouterFrame } from "./protocol.ts";
