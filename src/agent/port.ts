/**
 * AgentRuntime: how the agent daemon hosts a coding agent for one conversation. The Claude Agent SDK is
 * the first implementation (conversation-loop issue); others (ACP) can follow without touching callers.
 */
export interface AgentRuntime {
  /** Opens (or resumes, when `sessionId` is given) a live session for one conversation. */
  open(input: {
    conversationKey: string;
    sessionId: string | null;
    workingDir: string;
  }): Promise<AgentSession>;
}

export interface AgentSession {
  readonly sessionId: string | null;
  /** Sends a user turn; events stream out through `events` until a `result`. */
  send(text: string): Promise<void>;
  interrupt(): Promise<void>;
  readonly events: AsyncIterable<AgentEvent>;
  close(): Promise<void>;
}

export type AgentEvent =
  | { type: "text_delta"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "permission_request"; id: string; tool: string; input: unknown }
  | { type: "result"; sessionId: string; text: string; costUsd?: number }
  | { type: "error"; message: string };
