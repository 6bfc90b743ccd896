import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { errorMessage } from "../shared/errors.ts";
import { runBridge } from "./bridge.ts";
import type { AgentKind } from "./config.ts";
import { agentHomePaths, socketAddress } from "./home.ts";

const DAEMON_USAGE = `Usage: cloudclaude agent daemon --home <dir> --kind switchboard|project

Runs the agent daemon: the main process of a switchboard or project VM. It keeps the conversations' live
Claude Code sessions and an append-only event log under <home>, and serves the bridge on
<home>/agent/daemon.sock. Logs (JSON) go to stderr.

Environment:
  ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN   the owner's Claude Code credential, passed on to Claude Code
  CLAUDE_CODE_EXECUTABLE                       Claude Code to run (default: the SDK's bundled binary)
  CLOUDCLAUDE_PERMISSION_TIMEOUT_MS            wait for a permission answer or tool result (default 600000)
  CLOUDCLAUDE_AGENT_IDLE_MS                    close an idle conversation's Claude Code after (default 600000)
  LOG_LEVEL                                    fatal|error|warn|info|debug|trace|silent (default info)
`;

const BRIDGE_USAGE = `Usage: cloudclaude agent bridge --home <dir> [--wait <ms>]

Connects stdin/stdout to the agent daemon's socket (<home>/agent/daemon.sock), byte for byte: newline-
delimited JSON frames of the bridge protocol (docs/bridge-protocol.md). Ends when either side closes.
--wait retries for that long while the daemon is not up yet. Exit code 1 when it cannot connect.
`;

const USAGE = `Usage: cloudclaude agent daemon|bridge [options]   (--help on each for details)\n`;

/** `cloudclaude agent <daemon|bridge> …` */
export async function agentMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "daemon") return agentDaemonMain(rest, env);
  if (command === "bridge") return agentBridgeMain(rest, env);
  const help = command === undefined || command === "--help" || command === "-h";
  process[help ? "stdout" : "stderr"].write(USAGE);
  return help ? 0 : 2;
}

type Parsed<T> = { ok: true; values: T } | { ok: false; code: number };

/** Runs `read` (parseArgs + checks); prints the usage on --help (exit 0) or on a usage error (exit 2). */
function parse<T>(usage: string, read: () => T): Parsed<T> {
  try {
    const values = read();
    if ((values as { help?: boolean }).help) {
      process.stdout.write(usage);
      return { ok: false, code: 0 };
    }
    return { ok: true, values };
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n\n${usage}`);
    return { ok: false, code: 2 };
  }
}

export async function agentDaemonMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Until the daemon's own handler is in place (after loading the SDK, about a second), a stop request
  // simply ends the process (as a container's PID 1, without an init, it would otherwise be ignored).
  const stopWhileStarting = () => process.exit(143);
  process.once("SIGTERM", stopWhileStarting);
  process.once("SIGINT", stopWhileStarting);
  const parsed = parse(DAEMON_USAGE, () => {
    const { values } = parseArgs({
      args: [...argv],
      options: { home: { type: "string" }, kind: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) return { help: true, home: "", kind: "project" as AgentKind };
    if (!values.home) throw new Error("--home is required");
    if (values.kind !== "switchboard" && values.kind !== "project") {
      throw new Error("--kind must be switchboard or project");
    }
    return { help: false, home: values.home, kind: values.kind as AgentKind };
  });
  if (!parsed.ok) return parsed.code;
  const { home, kind } = parsed.values;
  // Loaded here, not at the top: the bridge command, which the router runs on every attach, needs none of it.
  const [{ pino }, { ZodError }, { createLogger }, { agentSettings }, { runDaemon }, { SdkRuntime }] =
    await Promise.all([
      import("pino"),
      import("zod"),
      import("../shared/logger.ts"),
      import("./config.ts"),
      import("./daemon/daemon.ts"),
      import("./sdk-runtime.ts"),
    ]);
  const paths = agentHomePaths(home);
  let settings: ReturnType<typeof agentSettings>;
  try {
    settings = agentSettings(env, kind, paths.claudeConfig, join(paths.agentDir, "google-credentials.json"));
    if (settings.googleCredentials) {
      mkdirSync(paths.agentDir, { recursive: true });
      // Written aside with its final mode, then renamed: the key is never readable by others, not even
      // for a moment, and never half written.
      const temporary = `${settings.googleCredentials.file}.${process.pid}-${Date.now()}.tmp`;
      writeFileSync(temporary, settings.googleCredentials.json, { mode: 0o600, flag: "wx" });
      renameSync(temporary, settings.googleCredentials.file);
    }
  } catch (error) {
    const problems =
      error instanceof ZodError ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) : [];
    process.stderr.write(
      `agent daemon: invalid environment\n${problems.join("\n") || errorMessage(error)}\n`,
    );
    return 2;
  }
  const logger = createLogger({
    level: settings.logLevel,
    name: "cloudclaude-agent",
    destination: pino.destination({ dest: 2, sync: true }),
  });
  const onRejection = (reason: unknown) => logger.error({ err: reason }, "unhandled rejection");
  process.on("unhandledRejection", onRejection);
  try {
    const runtime = new SdkRuntime({ kind, paths, settings, logger });
    const handle = await runDaemon({
      home,
      kind,
      runtime,
      logger,
      permissionTimeoutMs: settings.permissionTimeoutMs,
      idleMs: settings.idleMs,
    });
    // Listening: let the router's hello be answered first, then load the SDK before the first turn needs it.
    setTimeout(() => {
      runtime.ready().catch((error: unknown) => logger.error({ err: error }, "could not load the Agent SDK"));
    }, 250).unref();
    const stop = () => void handle.stop();
    process.off("SIGTERM", stopWhileStarting);
    process.off("SIGINT", stopWhileStarting);
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    const code = await handle.stopped;
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    logger.info({ code }, "agent daemon stopped");
    return code;
  } catch (error) {
    logger.fatal({ err: error }, "agent daemon failed to start");
    process.stderr.write(`agent daemon: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    process.off("unhandledRejection", onRejection);
  }
}

export async function agentBridgeMain(argv: readonly string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parse(BRIDGE_USAGE, () => {
    const { values } = parseArgs({
      args: [...argv],
      options: { home: { type: "string" }, wait: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) return { help: true, home: "", waitMs: 0 };
    if (!values.home) throw new Error("--home is required");
    const waitMs = values.wait === undefined ? 0 : Number(values.wait);
    if (!Number.isInteger(waitMs) || waitMs < 0) throw new Error("--wait must be a number of milliseconds");
    return { help: false, home: values.home, waitMs };
  });
  if (!parsed.ok) return parsed.code;
  const address = socketAddress(agentHomePaths(parsed.values.home));
  if (address.cwd !== undefined) process.chdir(address.cwd);
  const code = await runBridge(
    address.path,
    { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    { waitMs: parsed.values.waitMs },
  );
  process.stdin.destroy();
  return code;
}
