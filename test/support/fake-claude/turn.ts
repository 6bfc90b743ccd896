import type { FakeArgs } from "./args.ts";
import type { Transcript } from "./transcript.ts";
import { type Json, sleep, uuid, type Wire } from "./wire.ts";

/**
 * Emits one turn's messages the way Claude Code does in stream-json mode with `--verbose`: `system/init`
 * first, `stream_event` partials (only with `--include-partial-messages`), one `assistant` message per
 * content block, `user` tool_result messages, then exactly one `result`.
 */
export class TurnWriter {
  readonly started = Date.now();
  readonly signal: AbortSignal;
  readonly sessionId: string;
  private readonly wire: Wire;
  private readonly args: FakeArgs;
  private apiCalls = 0;
  private readonly texts: string[] = [];

  constructor(wire: Wire, args: FakeArgs, sessionId: string, signal: AbortSignal) {
    this.wire = wire;
    this.args = args;
    this.sessionId = sessionId;
    this.signal = signal;
  }

  get interrupted(): boolean {
    return this.signal.aborted;
  }

  init(cwd: string, mcpServers: readonly string[]): void {
    this.wire.send({
      type: "system",
      subtype: "init",
      session_id: this.sessionId,
      cwd,
      model: this.args.model,
      tools: [
        ...(this.args.tools === "default" ? ["Bash", "Read", "Edit"] : this.args.tools),
        ...mcpServers.map((s) => `mcp__${s}__*`),
      ],
      mcp_servers: mcpServers.map((name) => ({ name, status: "connected", source: "sdk" })),
      permissionMode: this.args.permissionMode,
      slash_commands: ["compact"],
      apiKeySource: process.env.ANTHROPIC_API_KEY ? "ANTHROPIC_API_KEY" : "none",
      claude_code_version: "0.0.0-fake",
      output_style: "default",
      agents: [],
      skills: [],
      plugins: [],
      capabilities: [],
      uuid: uuid(),
    });
  }

  state(state: "running" | "idle"): void {
    this.wire.send({
      type: "system",
      subtype: "session_state_changed",
      state,
      session_id: this.sessionId,
      uuid: uuid(),
    });
  }

  /** Streams `words` as one text block, `delayMs` apart; stops early when interrupted. */
  async text(words: readonly string[], delayMs = 0): Promise<string> {
    const messageId = this.messageStart();
    this.partial({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    let written = "";
    for (const [i, word] of words.entries()) {
      if (this.interrupted) break;
      if (i > 0 && delayMs > 0) await sleep(delayMs, this.signal);
      if (this.interrupted) break;
      const piece = i === 0 ? word : ` ${word}`;
      written += piece;
      this.partial({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } });
    }
    this.partial({ type: "content_block_stop", index: 0 });
    this.assistant(messageId, [{ type: "text", text: written }]);
    this.messageStop(this.interrupted ? null : "end_turn");
    this.texts.push(written);
    return written;
  }

  /**
   * What Claude Code writes when the API refuses the request (e.g. a 401 for a bad key): one synthetic
   * assistant message carrying `error` (the SDK's kind, such as `authentication_failed`) and its text.
   */
  apiError(text: string, kind: string): void {
    const messageId = `msg_${uuid().replaceAll("-", "").slice(0, 24)}`;
    this.assistant(messageId, [{ type: "text", text }], kind);
    this.texts.push(text);
  }

  /** A tool_use block; returns its id. */
  toolUse(name: string, input: Json): string {
    const messageId = this.messageStart();
    const id = `toolu_${uuid().replaceAll("-", "").slice(0, 24)}`;
    const block = { type: "tool_use", id, name, input };
    this.partial({ type: "content_block_start", index: 0, content_block: { ...block, input: {} } });
    this.partial({
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: JSON.stringify(input) },
    });
    this.partial({ type: "content_block_stop", index: 0 });
    this.assistant(messageId, [block]);
    this.messageStop("tool_use");
    return id;
  }

  toolResult(toolUseId: string, content: string, isError: boolean): void {
    this.wire.send({
      type: "user",
      message: {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: toolUseId, content, is_error: isError }],
      },
      parent_tool_use_id: null,
      session_id: this.sessionId,
      uuid: uuid(),
      tool_use_result: isError ? `Error: ${content}` : { stdout: content, stderr: "", interrupted: false },
    });
  }

  /** The turn's one `result`, recorded in the transcript. */
  result(transcript: Transcript, outcome: { error?: string; apiErrorStatus?: number } = {}): void {
    const answer = this.texts.join("\n");
    const turnCost = 0.001;
    transcript.append({
      type: "assistant",
      uuid: uuid(),
      sessionId: this.sessionId,
      cwd: process.cwd(),
      message: { role: "assistant", content: answer },
      costUsd: turnCost,
    });
    const base = {
      type: "result",
      duration_ms: Date.now() - this.started,
      duration_api_ms: Date.now() - this.started,
      num_turns: Math.max(1, this.apiCalls),
      stop_reason: this.interrupted ? null : "end_turn",
      // Cumulative, as Claude Code reports it: a resumed session starts from the total its transcript saved.
      total_cost_usd: Number(transcript.totalCostUsd().toFixed(6)),
      usage: {
        input_tokens: 10 * this.apiCalls,
        output_tokens: answer.split(/\s+/).length,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      modelUsage: {},
      permission_denials: [],
      session_id: this.sessionId,
      uuid: uuid(),
    };
    if (this.interrupted) {
      this.wire.send({
        ...base,
        subtype: "error_during_execution",
        is_error: true,
        terminal_reason: "aborted_streaming",
        errors: ["Request was aborted."],
      });
    } else if (outcome.error !== undefined) {
      this.wire.send({
        ...base,
        subtype: "error_during_execution",
        is_error: true,
        terminal_reason: "api_error",
        errors: [outcome.error],
      });
    } else if (outcome.apiErrorStatus !== undefined) {
      // As Claude Code ends a turn the API refused: a "success" result that is an error, with the status.
      this.wire.send({
        ...base,
        subtype: "success",
        is_error: true,
        api_error_status: outcome.apiErrorStatus,
        result: answer,
        terminal_reason: "completed",
      });
    } else {
      this.wire.send({
        ...base,
        subtype: "success",
        is_error: false,
        result: answer,
        terminal_reason: "completed",
      });
    }
  }

  private messageStart(): string {
    this.apiCalls++;
    const id = `msg_${uuid().replaceAll("-", "").slice(0, 24)}`;
    this.partial({
      type: "message_start",
      message: { id, type: "message", role: "assistant", model: this.args.model, content: [], usage: {} },
    });
    return id;
  }

  private messageStop(stopReason: string | null): void {
    this.partial({ type: "message_delta", delta: { stop_reason: stopReason }, usage: { output_tokens: 1 } });
    this.partial({ type: "message_stop" });
  }

  private partial(event: Json): void {
    if (!this.args.partialMessages) return;
    this.wire.send({
      type: "stream_event",
      event,
      parent_tool_use_id: null,
      session_id: this.sessionId,
      uuid: uuid(),
    });
  }

  private assistant(id: string, content: Json[], error?: string): void {
    this.wire.send({
      type: "assistant",
      ...(error !== undefined && { error }),
      message: {
        id,
        type: "message",
        role: "assistant",
        model: this.args.model,
        content,
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1 },
      },
      parent_tool_use_id: null,
      session_id: this.sessionId,
      uuid: uuid(),
    });
  }
}
