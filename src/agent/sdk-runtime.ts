import type {
  Options,
  Query,
  SDKMessage,
  SDKResultMessage,
  SDKUserMessage,
} from "@anthropic-ai/claude-agent-sdk";
import { errorMessage } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { AgentKind, AgentSettings } from "./config.ts";
import type { AgentHomePaths } from "./home.ts";
import type { AgentRuntime, AgentSession, SessionHost, SessionSpec, TurnOutcome } from "./port.ts";
import { PushQueue } from "./push-queue.ts";
import {
  qualifiedToolName,
  SWITCHBOARD_MCP_SERVER,
  SWITCHBOARD_SYSTEM_PROMPT,
  SWITCHBOARD_TOOLS,
} from "./switchboard-tools.ts";

export interface SdkRuntimeOptions {
  readonly kind: AgentKind;
  readonly paths: AgentHomePaths;
  readonly settings: Pick<AgentSettings, "claudeExecutable" | "childEnv">;
  readonly logger: Logger;
}

/** How long a graceful close waits for Claude Code to finish and exit before it is killed. */
const GRACEFUL_CLOSE_MS = 10_000;

type Sdk = typeof import("@anthropic-ai/claude-agent-sdk");
let sdk: Sdk | undefined;
let loading: Promise<void> | undefined;

/**
 * The SDK is loaded on demand rather than at start-up: compiling it is most of a daemon's start time, and a
 * woken agent should answer the bridge's hello first and load this while the router sends the turn.
 */
function loadSdk(): Promise<void> {
  loading ??= import("@anthropic-ai/claude-agent-sdk").then((module) => {
    sdk = module;
  });
  return loading;
}

function loadedSdk(): Sdk {
  if (!sdk) throw new Error("the Agent SDK is not loaded yet (await runtime.ready() first)");
  return sdk;
}

/**
 * The Claude Agent SDK as the daemon's runtime: one `query()` in streaming-input mode per live session,
 * a push queue as its prompt, turns delimited by `result` messages.
 */
export class SdkRuntime implements AgentRuntime {
  private readonly options: SdkRuntimeOptions;
  /** The last cumulative `total_cost_usd` per session: results report totals, turns want their own cost. */
  private readonly costTotals = new Map<string, number>();

  constructor(options: SdkRuntimeOptions) {
    this.options = options;
  }

  ready(): Promise<void> {
    return loadSdk();
  }

  open(spec: SessionSpec, host: SessionHost): AgentSession {
    const baseline = spec.resume === null ? 0 : this.costTotals.get(spec.resume);
    return new SdkSession(this.queryOptions(spec, host), spec, host, {
      logger: this.options.logger.child({ conversation: spec.conversation }),
      baseline,
      recordTotal: (sessionId, total) => this.costTotals.set(sessionId, total),
    });
  }

  private queryOptions(spec: SessionSpec, host: SessionHost): Options {
    const { kind, paths, settings, logger } = this.options;
    // Switchboard tools that need no approval are allowed here rather than by `allowedTools`, which would
    // make the SDK print a CLAUDE_SDK_CAN_USE_TOOL_SHADOWED warning (a non-JSON line in our logs).
    const preApproved = new Set(
      kind === "switchboard"
        ? SWITCHBOARD_TOOLS.filter((t) => !t.needsApproval).map((t) => qualifiedToolName(t.name))
        : [],
    );
    const common: Options = {
      cwd: paths.workspace,
      env: { ...settings.childEnv },
      includePartialMessages: true,
      // Always explicit: when omitted, Claude Code picks a mode from whatever settings it loads.
      permissionMode: "default",
      canUseTool: async (toolName, input, { signal, title }) => {
        if (preApproved.has(toolName)) return { behavior: "allow", updatedInput: input };
        const decision = await host.askPermission({
          tool: toolName,
          input,
          signal,
          ...(title === undefined ? {} : { title }),
        });
        return decision.allow
          ? { behavior: "allow", updatedInput: input }
          : { behavior: "deny", message: decision.message ?? "The user declined this in chat." };
      },
      stderr: (data) =>
        logger.debug({ conversation: spec.conversation, stderr: data.trimEnd() }, "claude code"),
      ...(settings.claudeExecutable === undefined
        ? {}
        : { pathToClaudeCodeExecutable: settings.claudeExecutable }),
      ...(spec.resume === null ? {} : { resume: spec.resume }),
    };
    if (kind === "project") {
      return {
        ...common,
        systemPrompt: { type: "preset", preset: "claude_code", append: OUTBOX_PROMPT },
        // The VM is the user's own machine: their user settings (on the volume) and the repo's CLAUDE.md apply.
        settingSources: ["user", "project", "local"],
      };
    }
    return {
      ...common,
      systemPrompt: SWITCHBOARD_SYSTEM_PROMPT,
      settingSources: [],
      tools: [],
      strictMcpConfig: true,
      mcpServers: { [SWITCHBOARD_MCP_SERVER]: switchboardServer(host) },
    };
  }
}

/** One sentence telling Claude how to send files to the chat (docs/delivery.md, "Files the agent makes"). */
const OUTBOX_PROMPT =
  "To send the user a file (an image, a report, an archive: at most 20 MB each, 10 a turn), write it into the outbox/ folder of your working directory: whatever is there when your turn ends is sent to the chat after your answer.";

/** A fresh in-process MCP server per session: an MCP server instance connects to one transport only. */
function switchboardServer(host: SessionHost) {
  const { createSdkMcpServer, tool } = loadedSdk();
  return createSdkMcpServer({
    name: SWITCHBOARD_MCP_SERVER,
    version: "1",
    tools: SWITCHBOARD_TOOLS.map((spec) =>
      tool(spec.name, spec.description, spec.input, async (args) => {
        const result = await host.callTool({ name: spec.name, input: args });
        return { content: [{ type: "text", text: result.output }], isError: !result.ok };
      }),
    ),
  });
}

interface RunningTurn {
  readonly resolve: (outcome: TurnOutcome) => void;
  readonly texts: string[];
  interruptRequested: boolean;
  /** Claude Code has begun the turn (its system/init or output arrived). */
  begun: boolean;
  /** The error Claude Code named on an API-error assistant message of this turn (`authentication_failed`, …). */
  errorKind?: string;
}

interface SessionDeps {
  readonly logger: Logger;
  /** The session's cumulative cost before this query, when known (0 for a new session). */
  readonly baseline: number | undefined;
  readonly recordTotal: (sessionId: string, total: number) => void;
}

class SdkSession implements AgentSession {
  sessionId: string | null;
  alive = true;
  private readonly input = new PushQueue<SDKUserMessage>();
  private readonly query: Query;
  private readonly host: SessionHost;
  private readonly deps: SessionDeps;
  private readonly pumped: Promise<void>;
  private current: RunningTurn | undefined;
  private costBaseline: number | undefined;

  constructor(options: Options, spec: SessionSpec, host: SessionHost, deps: SessionDeps) {
    this.sessionId = spec.resume;
    this.host = host;
    this.deps = deps;
    this.costBaseline = deps.baseline;
    this.query = loadedSdk().query({ prompt: this.input, options });
    this.pumped = this.pump();
  }

  turn(text: string): Promise<TurnOutcome> {
    if (!this.alive || this.current) {
      const message = this.alive ? "a turn is already running in this session" : "the session has ended";
      return Promise.resolve({ kind: "failed", message, retryable: true, sessionId: this.sessionId });
    }
    return new Promise<TurnOutcome>((resolve) => {
      this.current = { resolve, texts: [], interruptRequested: false, begun: false };
      this.input.push({ type: "user", message: { role: "user", content: text }, parent_tool_use_id: null });
    });
  }

  async interrupt(): Promise<void> {
    const turn = this.current;
    if (!turn || !this.alive) return;
    turn.interruptRequested = true;
    // The SDK may write the interrupt before the queued prompt, and an interrupt with no turn running is a
    // no-op for Claude Code; so it waits until the turn has begun (see onMessage).
    if (!turn.begun) return;
    try {
      await this.query.interrupt();
    } catch (error) {
      this.deps.logger.warn({ err: errorMessage(error) }, "interrupt failed");
    }
  }

  async close(options: { force?: boolean } = {}): Promise<void> {
    if (!this.input.isEnded) this.input.end();
    if (options.force) this.query.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), GRACEFUL_CLOSE_MS);
    });
    if ((await Promise.race([this.pumped, timedOut])) === "timeout") {
      this.query.close();
      await this.pumped;
    }
    clearTimeout(timer);
  }

  private async pump(): Promise<void> {
    let failure: string | undefined;
    try {
      for await (const message of this.query) this.onMessage(message);
    } catch (error) {
      failure = errorMessage(error);
      this.deps.logger.warn({ err: failure }, "claude code session ended with an error");
    }
    this.alive = false;
    if (!this.input.isEnded) this.input.end();
    const turn = this.current;
    this.current = undefined;
    if (turn) {
      const message = failure ?? "Claude Code exited during the turn";
      // Resuming a session whose transcript is gone can never succeed; anything else may on a rerun.
      const retryable = !/No conversation found with session ID/.test(message);
      turn.resolve({ kind: "failed", message, retryable, sessionId: this.sessionId });
    }
  }

  private onMessage(message: SDKMessage): void {
    if ("session_id" in message && typeof message.session_id === "string" && message.session_id !== "") {
      this.sessionId = message.session_id;
    }
    const turn = this.current;
    if (!turn) return;
    const begins =
      (message.type === "system" && message.subtype === "init") ||
      message.type === "stream_event" ||
      message.type === "assistant";
    if (begins && !turn.begun) {
      turn.begun = true;
      if (turn.interruptRequested) void this.interrupt();
    }
    if (message.type === "stream_event") {
      const { event } = message;
      if (message.parent_tool_use_id === null && event.type === "content_block_delta") {
        if (event.delta.type === "text_delta") {
          turn.texts.push(event.delta.text);
          this.host.text(event.delta.text);
        }
      }
    } else if (message.type === "assistant" && message.parent_tool_use_id === null) {
      if (message.error !== undefined) turn.errorKind = message.error;
      for (const block of message.message.content) {
        if (block.type === "tool_use")
          this.host.toolUse({ toolUseId: block.id, name: block.name, input: block.input });
      }
    } else if (message.type === "result") {
      this.current = undefined;
      turn.resolve(this.finished(message, turn));
    }
  }

  private finished(result: SDKResultMessage, turn: RunningTurn): TurnOutcome {
    const aborted = result.terminal_reason?.startsWith("aborted") ?? false;
    // An interrupt that lands as the turn completes leaves a success: that turn was not interrupted.
    const interrupted = aborted || (turn.interruptRequested && result.subtype !== "success");
    const streamed = turn.texts.join("");
    const text =
      result.subtype === "success"
        ? result.result
        : interrupted
          ? streamed
          : result.errors.join("\n") || streamed;
    const sessionId = result.session_id || this.sessionId || "";
    const total = result.total_cost_usd;
    const costUsd = this.costBaseline === undefined ? undefined : Math.max(0, total - this.costBaseline);
    this.costBaseline = total;
    if (sessionId) this.deps.recordTotal(sessionId, total);
    const usage: Record<string, number> = {};
    for (const [key, value] of Object.entries(result.usage))
      if (typeof value === "number") usage[key] = value;
    const isError = interrupted ? false : result.is_error;
    const status = "api_error_status" in result ? result.api_error_status : undefined;
    return {
      kind: "finished",
      sessionId,
      text,
      isError,
      interrupted,
      ...(isError && turn.errorKind !== undefined && { errorKind: turn.errorKind }),
      ...(isError && typeof status === "number" && { apiErrorStatus: status }),
      durationMs: result.duration_ms,
      usage,
      ...(costUsd === undefined ? {} : { costUsd: Number(costUsd.toFixed(6)) }),
    };
  }
}
