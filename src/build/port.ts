/**
 * The Build Service's ports: `ImageBuilder` makes a project's environment image (its own Dockerfile, a given
 * Dockerfile, or a template, with our agent layered on top), `Registry` makes it reachable from every host
 * of the pool. See docs/build-service.md.
 */

/** Where the environment comes from. */
export type BuildSource =
  /** The Dockerfile of the cloned repository (`path` relative to the context, default `Dockerfile`). */
  | { readonly kind: "repo"; readonly path?: string }
  /** A Dockerfile given as text (e.g. written by the switchboard), built with the clone as its context. */
  | { readonly kind: "dockerfile"; readonly text: string }
  /** One of ours, built FROM the agent image. */
  | { readonly kind: "template"; readonly template: TemplateName };

export type TemplateName = "generic" | "node" | "python" | "go";
export const TEMPLATES: readonly TemplateName[] = ["generic", "node", "python", "go"];

export interface BuildRequest {
  /** Owner of the project (a tag component: lower case letters, digits, `.`, `_`, `-`). */
  readonly user: string;
  readonly project: string;
  /** Which build this is, e.g. the commit's short hash; the image tag. */
  readonly revision: string;
  /** The cloned repository (see `cloneRepository`); copied to WORKSPACE_DIR in the image. */
  readonly contextDir: string;
  readonly source: BuildSource;
  readonly onProgress?: (step: BuildStep) => void;
}

/** One instruction of the build, numbered across the project's Dockerfile and our layer. */
export interface BuildStep {
  /** 1-based */
  readonly index: number;
  readonly total: number;
  /** `RUN npm ci` (shortened to 100 characters) */
  readonly instruction: string;
  /** `project`: the Dockerfile or template; `agent`: our layer on top. */
  readonly phase: "project" | "agent";
  /** For display: `step 3/7: RUN npm ci` */
  readonly text: string;
}

export interface BuiltImage {
  /** `[<registry>/]<user>/<project>:<revision>` on the engine that built it. */
  readonly tag: string;
  readonly imageId: string;
  readonly steps: number;
  readonly durationMs: number;
}

export interface ImageBuilder {
  /** Builds and tags the image; rejects with `BuildFailedError` (log tail inside) or `BuildTimeoutError`. */
  build(request: BuildRequest): Promise<BuiltImage>;
  /**
   * Removes the images this builder made for a project (every revision) from its engine, except one a
   * container still uses; resolves with how many went. For a deleted project.
   */
  removeImages(owner: Pick<BuildRequest, "user" | "project">): Promise<number>;
}

export interface Registry {
  /** `127.0.0.1:5000`, `registry.example.com` */
  readonly address: string;
  /** Pushes a tag of this registry; returns the pullable reference with its digest. */
  push(tag: string): Promise<{ reference: string; digest: string }>;
}

/** The build failed; `log` holds the last lines of the engine's output (the chat shows them). */
export class BuildFailedError extends Error {
  readonly log: string;
  /** The step that failed, when the engine had started one. */
  readonly step: BuildStep | undefined;
  constructor(message: string, log: string, step?: BuildStep, options?: ErrorOptions) {
    super(log ? `${message}\n--- last lines of the build log ---\n${log}` : message, options);
    this.name = "BuildFailedError";
    this.log = log;
    this.step = step;
  }
}

export class BuildTimeoutError extends BuildFailedError {
  constructor(timeoutMs: number, log: string, step?: BuildStep) {
    super(`the build took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`, log, step);
    this.name = "BuildTimeoutError";
  }
}
