import { z } from "zod";
import type { CredentialKind, CredentialSlot } from "../store/port.ts";

/**
 * The credentials a person may bring, how each is shape-checked, and the environment each becomes in their
 * own agents (never anyone else's). Claude Code's precedence (cloud provider > API key > OAuth token) makes
 * one Claude credential per person the rule: a new one replaces the old.
 */
export const CREDENTIAL_KINDS = [
  "anthropic_api_key",
  "claude_oauth_token",
  "bedrock",
  "vertex",
  "github_token",
] as const satisfies readonly CredentialKind[];

export function slotOf(kind: CredentialKind): CredentialSlot {
  return kind === "github_token" ? "github" : "claude";
}

/** AWS: us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1. */
const awsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "an AWS region such as us-east-1");
/** Google Cloud: us-east5, europe-west1, asia-southeast1, northamerica-northeast2; or Vertex's `global`. */
const googleRegion = z
  .string()
  .regex(/^([a-z]+-[a-z]+\d{1,2}|global)$/, "a Google Cloud region such as us-east5, or global");
const model = z
  .string()
  .regex(/^[A-Za-z0-9._:/@-]{3,200}$/)
  .optional();

const Bedrock = z
  .object({
    region: awsRegion,
    accessKeyId: z
      .string()
      .regex(/^(AKIA|ASIA)[A-Z0-9]{16}$/)
      .optional(),
    secretAccessKey: z
      .string()
      .regex(/^[A-Za-z0-9/+=]{40}$/)
      .optional(),
    sessionToken: z.string().min(16).max(4096).optional(),
    bearerToken: z.string().min(20).max(4096).optional(),
    model,
  })
  .strict()
  .refine(
    (b) => b.bearerToken !== undefined || (b.accessKeyId !== undefined && b.secretAccessKey !== undefined),
    {
      message: "give an access key id and secret access key, or a Bedrock API key",
    },
  );

const Vertex = z
  .object({
    projectId: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "a Google Cloud project id"),
    region: googleRegion,
    serviceAccountJson: z
      .string()
      .max(20_000)
      .refine((s) => {
        try {
          const parsed = JSON.parse(s) as { type?: unknown; private_key?: unknown };
          return parsed.type === "service_account" && typeof parsed.private_key === "string";
        } catch {
          return false;
        }
      }, "a service account key file (JSON with type service_account)")
      .optional(),
    model,
  })
  .strict();

/** What the /connect page posts: the kind and its fields. */
export const CredentialInput = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("anthropic_api_key"),
    value: z
      .string()
      .trim()
      .regex(/^sk-ant-api\d{2}-[A-Za-z0-9_-]{20,300}$/, "an Anthropic API key starts with sk-ant-api"),
  }),
  z.object({
    kind: z.literal("claude_oauth_token"),
    value: z
      .string()
      .trim()
      .regex(
        /^sk-ant-oat\d{2}-[A-Za-z0-9_-]{20,300}$/,
        "a `claude setup-token` token starts with sk-ant-oat",
      ),
  }),
  z.object({ kind: z.literal("bedrock"), value: Bedrock }),
  z.object({ kind: z.literal("vertex"), value: Vertex }),
  z.object({
    kind: z.literal("github_token"),
    value: z
      .string()
      .trim()
      .regex(
        /^(gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})$/,
        "a GitHub token starts with ghp_, gho_, ghu_, ghs_, ghr_ or github_pat_",
      ),
  }),
]);
export type CredentialInput = z.infer<typeof CredentialInput>;

/** The checked input as the single string that is sealed and stored. */
export function serialize(input: CredentialInput): string {
  return typeof input.value === "string" ? input.value : JSON.stringify(input.value);
}

/** The environment a stored credential becomes inside its owner's agents. */
export function credentialEnv(kind: CredentialKind, value: string): Record<string, string> {
  switch (kind) {
    case "anthropic_api_key":
      return { ANTHROPIC_API_KEY: value };
    case "claude_oauth_token":
      return { CLAUDE_CODE_OAUTH_TOKEN: value };
    case "github_token":
      return { GH_TOKEN: value, GITHUB_TOKEN: value };
    case "bedrock": {
      const b = JSON.parse(value) as z.infer<typeof Bedrock>;
      return {
        CLAUDE_CODE_USE_BEDROCK: "1",
        AWS_REGION: b.region,
        ...(b.accessKeyId && { AWS_ACCESS_KEY_ID: b.accessKeyId }),
        ...(b.secretAccessKey && { AWS_SECRET_ACCESS_KEY: b.secretAccessKey }),
        ...(b.sessionToken && { AWS_SESSION_TOKEN: b.sessionToken }),
        ...(b.bearerToken && { AWS_BEARER_TOKEN_BEDROCK: b.bearerToken }),
        ...(b.model && { ANTHROPIC_MODEL: b.model }),
      };
    }
    case "vertex": {
      const v = JSON.parse(value) as z.infer<typeof Vertex>;
      return {
        CLAUDE_CODE_USE_VERTEX: "1",
        ANTHROPIC_VERTEX_PROJECT_ID: v.projectId,
        CLOUD_ML_REGION: v.region,
        // The agent writes this to a private file and points GOOGLE_APPLICATION_CREDENTIALS at it.
        ...(v.serviceAccountJson && { CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON: v.serviceAccountJson }),
        ...(v.model && { ANTHROPIC_MODEL: v.model }),
      };
    }
  }
}

/** Every secret string inside a stored credential (for redaction): the whole value and its secret fields. */
export function secretParts(kind: CredentialKind, value: string): string[] {
  if (kind !== "bedrock" && kind !== "vertex") return [value];
  const env = credentialEnv(kind, value);
  return [
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.AWS_BEARER_TOKEN_BEDROCK,
    env.AWS_ACCESS_KEY_ID,
    env.CLOUDCLAUDE_GOOGLE_CREDENTIALS_JSON,
  ].filter((s): s is string => s !== undefined);
}

/**
 * Claude Code's names for an API error that means the credential itself was refused (not a passing
 * failure): invalid, revoked or expired key or token, or cloud-provider credentials that do not work.
 */
const REFUSED_KINDS = new Set(["authentication_failed", "oauth_org_not_allowed", "cloud_credential_error"]);

/**
 * Whether a turn ended because Claude refused the credential, judged from the structured outcome the agent
 * daemon reports (the SDK's error kind on the API-error message, or the API's 401), never from reply text:
 * an answer that merely talks about HTTP 401 or `/login` is an ordinary answer.
 */
export function isCredentialRefusal(outcome: {
  readonly isError: boolean;
  readonly errorKind?: string | undefined;
  readonly apiErrorStatus?: number | undefined;
}): boolean {
  if (!outcome.isError) return false;
  return (
    (outcome.errorKind !== undefined && REFUSED_KINDS.has(outcome.errorKind)) ||
    outcome.apiErrorStatus === 401
  );
}
