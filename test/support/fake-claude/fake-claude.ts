#!/usr/bin/env node
/**
 * A fake Claude Code CLI for tests: speaks the stream-json protocol the Agent SDK drives (see
 * /work/shared/reference/claude-code-runtime.md §2 and §6) without any network. Give its path to the SDK as
 * `pathToClaudeCodeExecutable`: the SDK runs a `.ts` path with `node`, which strips the types.
 *
 * Behaviour is scripted by the user message text:
 *   echo <text>       answers "echo: <text>"
 *   slow <n>          streams n words ~100 ms apart
 *   drip <n> <text>   streams <text> exactly (newlines kept) in n pieces ~150 ms apart
 *   long <kb>         streams about <kb> KB of numbered lines (L0001 … END) in 8 pieces
 *   permission <cmd>  a Bash tool_use that needs approval; answers "ran <cmd>" or "denied"
 *   tool <name>       calls <name> on the host's in-process MCP server (`mcp_message` → tools/call)
 *   fail              an error result
 *   crash             exits 1 in the middle of the turn
 *   hang              never answers until interrupted
 *   history           answers the number of earlier user messages in this session's transcript
 *   keyhash           answers "keyhash:<12 hex of SHA-256 of ANTHROPIC_API_KEY>" (which credential it got)
 *   leak              writes ANTHROPIC_API_KEY into its answer (the control plane must redact it)
 *   files [text]      for each `[attached: <path> …]` line of the message, reads <path> (relative to its
 *                     cwd) and answers "file <path> <bytes> sha256:<12 hex>" (or "missing <path>"); each
 *                     `[not attached: …]` line is repeated. A message that starts with such a line (a
 *                     file sent without text) does the same.
 *   make-file <name> <kb>  writes <kb> KB (fractions allowed) to `<cwd>/outbox/<name>`, byte i being i % 251,
 *                     and answers "made <name>"
 *   cat <path>        answers "cat <path>:\n<contents>" of the file at <path> relative to its cwd (at most
 *                     4000 characters of it), or "missing <path>"
 *   ls [dir]          answers "ls <dir>: <entry names, sorted, space-separated>" of <dir> relative to its
 *                     cwd (default "."; dotfiles such as .git included), or "missing <dir>"
 * An ANTHROPIC_API_KEY containing "REJECTED" fails every turn as Claude Code does on a 401 (an assistant
 * message with `error: "authentication_failed"`, then an error result with `api_error_status: 401`).
 *   anything else     echo
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseFakeArgs, ruleMatches } from "./args.ts";
import { Transcript } from "./transcript.ts";
import { TurnWriter } from "./turn.ts";
import { HostError, type Json, uuid, Wire } from "./wire.ts";
import { catReport, lsReport } from "./workspace.ts";

const args = parseFakeArgs(process.argv.slice(2));
const cwd = process.cwd();
const configDir = process.env.CLAUDE_CONFIG_DIR ?? join(homedir(), ".claude");
const wire = new Wire();

function openTranscript(): Transcript {
  if (args.resume !== undefined) {
    const found = Transcript.find(configDir, cwd, args.resume);
    if (found === undefined) {
      process.stderr.write(`No conversation found with session ID: ${args.resume}\n`);
      process.exit(1);
    }
    const loaded = Transcript.load(found);
    return args.forkSession ? loaded.fork(configDir, cwd, uuid()) : loaded;
  }
  return Transcript.create(configDir, cwd, args.sessionId ?? uuid());
}

const transcript = openTranscript();
const sessionId = transcript.path.slice(transcript.path.lastIndexOf("/") + 1, -".jsonl".length);
let sdkServers: string[] = [...args.mcpConfigServers];
const mcpTools = new Map<string, string[]>();
let mcpIds = 0;

const inbox: string[] = [];
let current: AbortController | undefined;
let working = false;
let inputEnded = false;
let hanging = false;

async function runTurns(): Promise<void> {
  if (working) return;
  working = true;
  for (let text = inbox.shift(); text !== undefined; text = inbox.shift()) {
    current = new AbortController();
    await runTurn(text, current.signal);
    current = undefined;
  }
  working = false;
  if (inputEnded) process.exit(0);
}

async function runTurn(text: string, signal: AbortSignal): Promise<void> {
  const turn = new TurnWriter(wire, args, sessionId, signal);
  const earlierPrompts = transcript.userPrompts();
  transcript.append({ type: "user", uuid: uuid(), sessionId, cwd, message: { role: "user", content: text } });
  turn.state("running");
  turn.init(cwd, sdkServers);
  const [verb = "", ...rest] = text.trim().split(/\s+/);
  const arg = rest.join(" ");
  let error: string | undefined;
  let apiErrorStatus: number | undefined;
  const apiKey = process.env.ANTHROPIC_API_KEY ?? "";
  const onlyFiles = /^\[(not )?attached: /.test(text.trim());
  switch (apiKey.includes("REJECTED") ? "rejected-credential" : onlyFiles ? "files" : verb) {
    case "files":
      await turn.text([filesReport(text)]);
      break;
    case "rejected-credential":
      turn.apiError("Invalid API key · Please run /login", "authentication_failed");
      apiErrorStatus = 401;
      break;
    case "keyhash":
      await turn.text([`keyhash:${createHash("sha256").update(apiKey).digest("hex").slice(0, 12)}`]);
      break;
    case "leak":
      await turn.text(["my", "key", "is", apiKey || "unset"]);
      break;
    case "slow":
      await turn.text(
        Array.from({ length: Number(arg) || 5 }, (_, i) => `word${i + 1}`),
        100,
      );
      break;
    case "permission":
      await permissionScript(turn, arg);
      break;
    case "tool":
      await toolScript(turn, rest[0] ?? "", rest.slice(1).join(" "));
      break;
    case "fail":
      error = "API Error: 500 the fake was asked to fail";
      break;
    case "crash":
      await turn.text(["about", "to", "crash"]);
      process.stderr.write("fake-claude: crashing as asked\n");
      process.exit(1);
      break;
    case "hang":
      hanging = true;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      hanging = false;
      break;
    case "drip": {
      // drip <pieces> <text…>: the text exactly as sent (newlines kept), in <pieces> deltas ~150 ms apart.
      const body = text.trim().replace(/^drip\s+\S+\s?/, "");
      const tokens = body.split(" ");
      const size = Math.max(1, Math.ceil(tokens.length / (Number(rest[0]) || 10)));
      const pieces: string[] = [];
      for (let i = 0; i < tokens.length; i += size) pieces.push(tokens.slice(i, i + size).join(" "));
      await turn.text(pieces, 150);
      break;
    }
    case "long": {
      // long <kb>: about <kb> KB of numbered lines (L0001 … END), streamed in 8 pieces ~150 ms apart.
      const lines: string[] = [];
      const target = (Number(arg) || 20) * 1024;
      for (let n = 1, size = 0; size < target; n++) {
        const line = `L${String(n).padStart(4, "0")} ${"lorem ipsum dolor sit amet ".repeat(2).trim()}`;
        lines.push(line);
        size += line.length + 1;
      }
      lines.push("END");
      const per = Math.ceil(lines.length / 8);
      const pieces: string[] = [];
      for (let i = 0; i < lines.length; i += per) pieces.push(`${lines.slice(i, i + per).join("\n")}\n`);
      await turn.text(pieces, 150);
      break;
    }
    case "make-file": {
      const [name = "file.bin", kb = "1"] = rest;
      const bytes = Buffer.alloc(Math.round(Number(kb) * 1024));
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
      mkdirSync(join(cwd, "outbox"), { recursive: true });
      writeFileSync(join(cwd, "outbox", name), bytes);
      await turn.text(["made", name]);
      break;
    }
    case "cat":
      await turn.text([catReport(cwd, arg)]);
      break;
    case "ls":
      await turn.text([lsReport(cwd, arg || ".")]);
      break;
    case "history":
      await turn.text([String(earlierPrompts)]);
      break;
    case "echo":
      await turn.text(["echo:", ...rest]);
      break;
    default:
      await turn.text(["echo:", ...text.trim().split(/\s+/)]);
  }
  turn.result(transcript, {
    ...(error !== undefined && { error }),
    ...(apiErrorStatus !== undefined && { apiErrorStatus }),
  });
  turn.state("idle");
}

/** Claude Code's permission pipeline, reduced: deny rules → allow rules → mode → ask the host (stdio). */
async function mayUse(
  turn: TurnWriter,
  tool: string,
  input: Json,
  toolUseId: string,
): Promise<string | true> {
  if (ruleMatches(args.disallowedTools, tool)) return `Permission to use ${tool} has been denied.`;
  if (ruleMatches(args.allowedTools, tool) || args.permissionMode === "bypassPermissions") return true;
  if (args.permissionMode === "dontAsk") return `Permission to use ${tool} has been denied (don't ask mode).`;
  if (args.permissionPromptTool !== "stdio") return `Claude requested permissions to use ${tool}.`;
  try {
    const answer = await wire.request(
      {
        subtype: "can_use_tool",
        tool_name: tool,
        input,
        tool_use_id: toolUseId,
        permission_suggestions: [
          { type: "addRules", rules: [{ toolName: tool }], behavior: "allow", destination: "localSettings" },
        ],
        decision_reason_type: "mode",
        title:
          tool === "Bash" ? `Claude wants to run ${String(input.command)}` : `Claude wants to use ${tool}`,
      },
      turn.signal,
    );
    return answer.behavior === "allow" ? true : String(answer.message ?? "denied");
  } catch (error) {
    return error instanceof HostError ? error.message : String(error);
  }
}

async function permissionScript(turn: TurnWriter, command: string): Promise<void> {
  if (args.tools !== "default" && !args.tools.includes("Bash")) {
    await turn.text(["I", "have", "no", "Bash", "tool"]);
    return;
  }
  const input = { command, description: `Run ${command}` };
  const id = turn.toolUse("Bash", input);
  const verdict = await mayUse(turn, "Bash", input, id);
  if (turn.interrupted) return;
  if (verdict === true) {
    turn.toolResult(id, `ran ${command}`, false);
    await turn.text(["ran", command]);
  } else {
    turn.toolResult(id, verdict, true);
    await turn.text(["denied"]);
  }
}

async function mcp(server: string, method: string, params?: Json): Promise<Json> {
  const isRequest = method !== "notifications/initialized";
  const message: Json = {
    jsonrpc: "2.0",
    method,
    ...(params ? { params } : {}),
    ...(isRequest ? { id: ++mcpIds } : {}),
  };
  const answer = await wire.request({ subtype: "mcp_message", server_name: server, message });
  const reply = (answer.mcp_response ?? {}) as Json;
  if (reply.error) throw new Error(`MCP ${method} failed: ${JSON.stringify(reply.error)}`);
  return (reply.result ?? {}) as Json;
}

/** The MCP handshake Claude Code does with each in-process server before using it. */
async function toolsOf(server: string): Promise<string[]> {
  const known = mcpTools.get(server);
  if (known) return known;
  await mcp(server, "initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "claude-code", version: "0.0.0-fake" },
  });
  await mcp(server, "notifications/initialized");
  const listed = (await mcp(server, "tools/list", {})).tools as { name: string }[] | undefined;
  const names = (listed ?? []).map((t) => t.name);
  mcpTools.set(server, names);
  return names;
}

async function toolScript(turn: TurnWriter, name: string, rawInput: string): Promise<void> {
  let server: string | undefined;
  for (const candidate of sdkServers) if ((await toolsOf(candidate)).includes(name)) server = candidate;
  if (server === undefined) {
    await turn.text(["no", "tool", "named", name]);
    return;
  }
  const input = rawInput ? (JSON.parse(rawInput) as Json) : {};
  const qualified = `mcp__${server}__${name}`;
  const id = turn.toolUse(qualified, input);
  const verdict = await mayUse(turn, qualified, input, id);
  if (turn.interrupted) return;
  if (verdict !== true) {
    turn.toolResult(id, verdict, true);
    await turn.text(["denied"]);
    return;
  }
  const result = await mcp(server, "tools/call", { name, arguments: input });
  const content = (result.content as { type: string; text?: string }[] | undefined) ?? [];
  const output = content.map((c) => c.text ?? "").join("\n");
  turn.toolResult(id, output, result.isError === true);
  await turn.text([`${name}${result.isError === true ? " failed" : ""}:`, output]);
}

function onControlRequest(requestId: string, request: Json): void {
  switch (request.subtype) {
    case "initialize":
      if (Array.isArray(request.sdkMcpServers))
        sdkServers = [...new Set([...sdkServers, ...request.sdkMcpServers])];
      wire.answer(requestId, {
        commands: [],
        agents: [],
        output_style: "default",
        available_output_styles: ["default"],
        models: [{ value: args.model, displayName: "Fake", description: "the fake model" }],
        account: {},
        claude_code_version: "0.0.0-fake",
        pending_permission_requests: [],
      });
      return;
    case "interrupt":
      current?.abort();
      wire.answer(requestId, {});
      return;
    case "set_permission_mode":
      wire.answer(requestId, { mode: request.mode });
      return;
    default:
      wire.refuse(requestId, `Unsupported control request subtype: ${String(request.subtype)}`);
      return;
  }
}

function onLine(line: string): void {
  if (line.trim() === "") return;
  let message: Json;
  try {
    message = JSON.parse(line) as Json;
  } catch {
    process.stderr.write(`Error parsing streaming input line: ${line.slice(0, 200)}\n`);
    return;
  }
  switch (message.type) {
    case "control_request":
      onControlRequest(String(message.request_id), (message.request ?? {}) as Json);
      return;
    case "control_response":
      wire.settle((message.response ?? {}) as Json);
      return;
    case "user": {
      const content = (message.message as { content?: unknown } | undefined)?.content;
      const text =
        typeof content === "string"
          ? content
          : Array.isArray(content)
            ? content.map((b: { text?: string }) => b.text ?? "").join("")
            : "";
      inbox.push(text);
      void runTurns();
      return;
    }
    default:
      return; // keep_alive, control_cancel_request, …
  }
}

createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })
  .on("line", onLine)
  .on("close", () => {
    inputEnded = true;
    if (!working) process.exit(0);
    // Orphaned (the host died): a hanging turn would never end, so the process would never exit.
    if (hanging) current?.abort();
  });

/** What `files` answers: each announced file as read from the cwd, and the notes about the others. */
function filesReport(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const attached = /^\[attached: (.+?) \(/.exec(line);
    if (attached?.[1]) {
      try {
        const bytes = readFileSync(join(cwd, attached[1]));
        const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
        lines.push(`file ${attached[1]} ${bytes.length} sha256:${hash}`);
      } catch {
        lines.push(`missing ${attached[1]}`);
      }
    } else if (line.startsWith("[not attached: ")) lines.push(line);
  }
  return lines.length > 0 ? lines.join("\n") : "no files";
}
