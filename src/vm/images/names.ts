/**
 * The image contract shared by the builder, the CLI and the Docker runtime.
 *
 * Tags are content addressed: `<repo>:<12 hex>` names exactly one set of inputs, so a build whose tag
 * exists is skipped, and `<repo>:latest` points at the newest build. Every image we make carries the label
 * `cloudclaude.image` (base | agent | agent-test), which `cloudclaude images ls` filters on. The base
 * comes in two variants, with and without the real Claude Code binary: `cloudclaude-base:latest` and
 * `cloudclaude-base:latest-no-claude` (label `cloudclaude.claude-binary`).
 *
 * Layout inside the agent image:
 *   /usr/local/bin/node            Node.js (24)
 *   /usr/local/bin/cloudclaude     `exec node /opt/cloudclaude/bin/cloudclaude.js "$@"`
 *   /opt/cloudclaude/{bin,src,package.json,node_modules}
 *   /opt/cloudclaude/test/support/fake-claude/   (test image only; CLAUDE_CODE_EXECUTABLE points at it)
 *   /home/agent                    user agent (1000:1000); the runtime mounts the agent's volume here
 *   /tmp                           1777; the runtime mounts a tmpfs here (the root filesystem is read-only)
 */
export const IMAGE_LABEL = "cloudclaude.image";
/** yes | no: whether the real Claude Code binary is inside (the test variant goes without). */
export const CLAUDE_BINARY_LABEL = "cloudclaude.claude-binary";
export const BASE_REPO = "cloudclaude-base";
export const AGENT_REPO = "cloudclaude-agent";
export const TEST_REPO = "cloudclaude-agent-test";

/** The image the Docker runtime runs unless CLOUDCLAUDE_AGENT_IMAGE names another. */
export const DEFAULT_AGENT_IMAGE = `${AGENT_REPO}:latest`;

export const AGENT_UID = 1000;
export const AGENT_HOME = "/home/agent";
export const APP_DIR = "/opt/cloudclaude";
export const FAKE_CLAUDE_PATH = `${APP_DIR}/test/support/fake-claude/fake-claude.ts`;

/** The agent daemon's command line in the container (the runtime passes --kind project for VMs). */
export function daemonCommand(kind: "switchboard" | "project"): string[] {
  return [
    "/usr/local/bin/node",
    `${APP_DIR}/bin/cloudclaude.js`,
    "agent",
    "daemon",
    "--home",
    AGENT_HOME,
    "--kind",
    kind,
  ];
}

export interface BuiltImages {
  /** `cloudclaude-base:<hash>` */
  readonly base: string;
  /** `cloudclaude-agent:<hash>` or, for the test variant, `cloudclaude-agent-test:<hash>` */
  readonly agent: string;
  /** The `:latest` tag that now points at `agent`. */
  readonly latest: string;
  /** Whether anything was built (false: every tag already existed). */
  readonly built: boolean;
}

/** A step of a build, for progress display: a short name, e.g. "npm ci" or "Step 3/9 : COPY bin …". */
export type Progress = (step: string) => void;
