import { AGENT_HOME, AGENT_UID, APP_DIR, daemonCommand } from "../vm/images/names.ts";
import type { TemplateName } from "./port.ts";

/**
 * What every environment image gets on top of the project's own layers, so that it runs as a CloudClaude
 * agent under the VM Manager (which starts `/usr/local/bin/node /opt/cloudclaude/bin/cloudclaude.js agent
 * daemon …` as 1000:1000 with HOME=/home/agent and the agent's volume mounted on /home/agent):
 *
 *   /usr/local/bin/node, /usr/local/bin/cloudclaude, /opt/cloudclaude/**   copied from the agent image
 *   user 1000:1000 `agent` with home /home/agent                          (image-setup.ts, run with our node)
 *   git                                                                    required from the project image
 *   /home/agent/workspace                                                  the cloned repository, 1000:1000
 *
 * Docker copies an image's files into a named volume the first time the volume is mounted while empty, so a
 * new project VM starts with the clone (and its .git) as its working tree on the volume.
 */
export const WORKSPACE_DIR = `${AGENT_HOME}/workspace`;
export const SETUP_PATH = `${APP_DIR}/image-setup.ts`;

/** Files the builder adds to a build context (under a name a repository is unlikely to use). */
export const CONTEXT_DIR = ".cloudclaude-build";

export const LABELS = {
  managed: "cloudclaude.managed",
  project: "cloudclaude.project",
  user: "cloudclaude.user",
  revision: "cloudclaude.revision",
  image: "cloudclaude.image",
} as const;

const COMPONENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** `[<registry>/]<user>/<project>:<revision>`; rejects names Docker would refuse, saying which. */
export function imageTag(parts: {
  registry?: string | undefined;
  user: string;
  project: string;
  revision: string;
}): string {
  for (const [what, value] of [
    ["user", parts.user],
    ["project", parts.project],
  ] as const) {
    if (!COMPONENT.test(value)) {
      throw new Error(
        `the ${what} name ${JSON.stringify(value)} cannot be part of an image name: use lower case letters, digits and . _ - between them`,
      );
    }
  }
  if (!TAG.test(parts.revision)) {
    throw new Error(`the revision ${JSON.stringify(parts.revision)} is not a valid image tag`);
  }
  const registry = parts.registry ? `${parts.registry.replace(/\/+$/, "")}/` : "";
  return `${registry}${parts.user}/${parts.project}:${parts.revision}`;
}

/**
 * The project stage of a template: FROM the agent image, plus the toolchain. Nothing can be downloaded
 * without a network, so python and go install their toolchain with apt-get when the agent image has it
 * (the registry build of images/agent/Dockerfile, a network for the build) and otherwise fail saying so;
 * the offline agent image has neither apt-get nor Python nor Go.
 */
export function templateDockerfile(template: TemplateName, agentImage: string): string {
  const from = `FROM ${agentImage}`;
  switch (template) {
    case "generic":
      return `${from}\n`;
    case "node":
      return `${from}\nRUN ["/usr/local/bin/node", "--version"]\n`;
    case "python":
      return `${from}\nUSER root\nRUN ${toolchain("python3", "python3 python3-pip python3-venv", "python")}\n`;
    case "go":
      return `${from}\nUSER root\nRUN ${toolchain("go", "golang-go", "go")}\n`;
  }
}

function toolchain(command: string, packages: string, template: string): string {
  const missing =
    `the ${template} template needs ${command}, which the agent image does not have, and it cannot be ` +
    "installed here: the image has no apt-get (the offline agent image) or no network. Build the agent " +
    "image from images/agent/Dockerfile with a network, or give a Dockerfile that installs it.";
  return [
    `if command -v ${command} >/dev/null 2>&1; then ${command} --version || ${command} version;`,
    "elif command -v apt-get >/dev/null 2>&1 && apt-get update;",
    `then apt-get install -y --no-install-recommends ${packages} && rm -rf /var/lib/apt/lists/*;`,
    `else echo ${JSON.stringify(missing)} >&2; exit 1; fi`,
  ].join(" ");
}

/** Our layer over the project stage (an image id). `derived`: the stage already has the agent image's files. */
export function layerDockerfile(input: {
  stage: string;
  agentImage: string;
  derived: boolean;
  env: readonly string[];
  labels: Readonly<Record<string, string>>;
}): string {
  const copy = (path: string) => `COPY --from=${input.agentImage} ${path} ${path}`;
  const lines = [
    `FROM ${input.stage}`,
    "USER root",
    ...(input.derived
      ? []
      : [copy("/usr/local/bin/node"), copy("/usr/local/bin/cloudclaude"), copy(APP_DIR)]),
    `COPY ${CONTEXT_DIR}/image-setup.ts ${SETUP_PATH}`,
    `RUN ["/usr/local/bin/node", "${SETUP_PATH}"]`,
    `COPY --chown=${AGENT_UID}:${AGENT_UID} workspace ${WORKSPACE_DIR}`,
    ...input.env.map((entry) => {
      const at = entry.indexOf("=");
      return `ENV ${entry.slice(0, at)}=${JSON.stringify(entry.slice(at + 1))}`;
    }),
    `USER ${AGENT_UID}:${AGENT_UID}`,
    `WORKDIR ${AGENT_HOME}`,
    `RUN ["/usr/local/bin/node", "${APP_DIR}/bin/cloudclaude.js", "agent", "--help"]`,
    // A project's ENTRYPOINT would receive the daemon's command line as its arguments.
    "ENTRYPOINT []",
    `CMD ${JSON.stringify(daemonCommand("project"))}`,
    // One instruction (the engine's `labels` parameter would add a step per label).
    `LABEL ${Object.entries(input.labels)
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(" ")}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** Instructions in a Dockerfile we generated (one per line). */
export function countInstructions(dockerfile: string): number {
  return dockerfile.split("\n").filter((line) => /^[A-Z]+ /.test(line)).length;
}

/** Environment of the agent image worth carrying over (e.g. CLAUDE_CODE_EXECUTABLE in the test image). */
export function carriedEnv(env: readonly string[] | undefined): string[] {
  return (env ?? []).filter((entry) => !/^(PATH|HOME|HOSTNAME)=/.test(entry) && entry.includes("="));
}
