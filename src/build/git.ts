import { spawn } from "node:child_process";

/**
 * Clones a repository into a build context with `git`. A token (a GitHub personal access or app token) is
 * handed to git through a credential helper given on the command line (`-c credential.helper=…`), which
 * reads it from an environment variable of that one git process: it is never in the URL, the arguments,
 * a file, the clone's .git/config, the build context, the image or a log line (errors are redacted too).
 * The machine's and the user's git configuration are ignored (no stored credentials, no URL rewriting).
 */
export interface CloneRequest {
  readonly url: string;
  readonly branch?: string | undefined;
  /** An empty or missing directory; it becomes the clone (and the build context). */
  readonly dir: string;
  readonly token?: string | undefined;
  /** Default 5 minutes. */
  readonly timeoutMs?: number;
}

export interface Clone {
  /** The checked-out commit (40 hex). */
  readonly commit: string;
  readonly branch: string | undefined;
}

/**
 * A clone that failed. `reason` says what the person can do about it (the chat says that in their
 * language); `detail` is git's own output (redacted) or our explanation, the message both in English.
 */
export class CloneError extends Error {
  readonly reason: "private" | "token-refused" | "other";
  readonly detail: string;
  constructor(
    message: string,
    options: ErrorOptions & { reason?: CloneError["reason"]; detail?: string } = {},
  ) {
    super(message, options);
    this.name = "CloneError";
    this.reason = options.reason ?? "other";
    this.detail = options.detail ?? message;
  }
}

const TOKEN_VARIABLE = "CLOUDCLAUDE_GIT_TOKEN";
/** Answers git's `get` with the token from the environment; ignores `store` and `erase`. */
const HELPER = `!f() { test "$1" = get && echo username=x-access-token && echo "password=$${TOKEN_VARIABLE}"; }; f`;
const SCHEMES = new Set(["https:", "http:", "ssh:", "git:"]);

/**
 * Why `repo` cannot be cloned as given, or undefined when it can: only https, http, ssh and git (no
 * `file://` reading this machine's disk, no `ext::`), and no user or password in it (a token is given apart).
 * Checked when a project is created and again before every clone.
 */
export function repositoryUrlProblem(repo: string): string | undefined {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return `${JSON.stringify(repo)} is not a repository URL (https://host/owner/repo.git)`;
  }
  if (!SCHEMES.has(url.protocol)) {
    return `repositories are cloned over https, http, ssh or git, not ${url.protocol}`;
  }
  if (url.username || url.password) {
    return "the repository URL must not hold a user name or password: the token is given apart";
  }
  return undefined;
}

export async function cloneRepository(request: CloneRequest): Promise<Clone> {
  const problem = repositoryUrlProblem(request.url);
  if (problem) throw new CloneError(problem);
  const args = [
    "-c",
    "credential.helper=",
    ...(request.token ? ["-c", `credential.helper=${HELPER}`] : []),
    "-c",
    "protocol.allow=never",
    ...[...SCHEMES].flatMap((scheme) => ["-c", `protocol.${scheme.slice(0, -1)}.allow=always`]),
    "clone",
    "--quiet",
    "--no-recurse-submodules",
    ...(request.branch ? ["--branch", request.branch, "--single-branch"] : []),
    "--",
    request.url,
    request.dir,
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: "/nonexistent",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
    ...(request.token ? { [TOKEN_VARIABLE]: request.token } : {}),
  };
  const redact = (text: string) => (request.token ? text.split(request.token).join("***") : text);
  const result = await git(args, env, request.timeoutMs ?? 5 * 60_000);
  if (result.code !== 0) {
    const why = redact(result.stderr.trim()) || `git exited with ${result.code}`;
    const denied = /Authentication failed|could not read Username|401|403/.test(why);
    const reason = denied ? (request.token ? "token-refused" : "private") : "other";
    const hint = {
      "token-refused":
        " (the stored token was refused: is it still valid, and does it give access to this repository?)",
      private: " (the repository is private: store a GitHub token to clone it)",
      other: "",
    }[reason];
    throw new CloneError(`git clone ${request.url} failed${hint}: ${why}`, { reason, detail: why });
  }
  const head = await git(["-C", request.dir, "rev-parse", "HEAD"], env, 30_000);
  if (head.code !== 0) throw new CloneError(`the clone of ${request.url} has no HEAD: ${head.stderr.trim()}`);
  return { commit: head.stdout.trim(), branch: request.branch };
}

function git(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += String(d);
    });
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.once("error", (error) =>
      reject(new CloneError(`git could not start (install git: apt-get install -y git): ${error.message}`)),
    );
    child.once("close", (code, signal) =>
      resolve({
        code: signal ? -1 : code,
        stdout,
        stderr: signal ? `${stderr}\ngit was stopped after ${Math.round(timeoutMs / 1000)} s` : stderr,
      }),
    );
  });
}
