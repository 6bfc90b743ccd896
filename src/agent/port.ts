/**
 * AgentRuntime: how the agent daemon hosts a coding agent. The Claude Agent SDK is the implementation
 * (`sdk-runtime.ts`); an ACP one can follow without touching the daemon. The daemon owns sessions, the
 * event log and the bridge; a runtime only turns one user turn into a stream of agent happenings.
 */
export type { AgentEvent, DaemonFrame, RouterFrame } from "./protocol.ts";

export interface AgentRuntime {
  /**
   * Loads what opening a session needs. The daemon answers the bridge before this is done and awaits it
   * before opening the first session.
   */
  ready?(): Promise<void>;
  /** Starts a live agent session for one conversation, resuming `resume` when given. */
  open(spec: SessionSpec, host: SessionHost): AgentSession;
}

export interface SessionSpec {
  readonly conversation: string;
  /** The agent session to resume; null starts a new one. */
  readonly resume: string | null;
}

/** The daemon's side of a session: where the running turn's happenings go and who answers its questions. */
export interface SessionHost {
  /** A piece of the assistant's text, in order. */
  text(text: string): void;
  toolUse(use: { toolUseId: string; name: string; input: unknown }): void;
  /** Asks the chat whether a tool may run. Settles deny at the deadline or when `signal` aborts. */
  askPermission(ask: {
    tool: string;
    input: unknown;
    title?: string;
    signal: AbortSignal;
  }): Promise<{ allow: boolean; message?: string }>;
  /** Runs a switchboard tool through the control plane; settles with an error result at the deadline. */
  callTool(call: {
    name: string;
    input: unknown;
    signal?: AbortSignal;
  }): Promise<{ ok: boolean; output: string }>;
}

export interface AgentSession {
  /** The agent's session id, known once the first turn has started. */
  readonly sessionId: string | null;
  /** false once the session ended (closed, or its process died); a dead session is replaced, not reused. */
  readonly alive: boolean;
  /** Runs one user turn to its end. Never rejects: a failure comes back as `{ kind: "failed" }`. */
  turn(text: string): Promise<TurnOutcome>;
  /** Interrupts the running turn, which then ends with `interrupted: true`. */
  interrupt(): Promise<void>;
  /** Ends the session: gracefully (idle, forget) or at once (`force`, daemon shutdown). */
  close(options?: { force?: boolean }): Promise<void>;
}

export type TurnOutcome =
  | {
      readonly kind: "finished";
      readonly sessionId: string;
      readonly text: string;
      readonly isError: boolean;
      readonly interrupted: boolean;
      /** Claude Code's name for the API error that ended the turn (`authentication_failed`, …). */
      readonly errorKind?: string;
      /** The HTTP status of that API error, when Claude Code reported one. */
      readonly apiErrorStatus?: number;
      readonly costUsd?: number;
      readonly usage?: Record<string, number>;
      readonly durationMs: number;
    }
  | {
      readonly kind: "failed";
      readonly message: string;
      /** true when running the turn again may succeed (the agent process died). */
      readonly retryable: boolean;
      readonly sessionId: string | null;
    };
