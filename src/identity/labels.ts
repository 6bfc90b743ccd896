import type { Language } from "../router/messages.ts";
import type { CredentialKind } from "../store/port.ts";

const LABELS: Record<Language, Record<CredentialKind, string>> = {
  en: {
    anthropic_api_key: "Anthropic API key",
    claude_oauth_token: "Claude subscription token",
    bedrock: "Amazon Bedrock settings",
    vertex: "Google Vertex AI settings",
    github_token: "GitHub token",
  },
  "zh-TW": {
    anthropic_api_key: "Anthropic API 金鑰",
    claude_oauth_token: "Claude 訂閱權杖",
    bedrock: "Amazon Bedrock 設定",
    vertex: "Google Vertex AI 設定",
    github_token: "GitHub 權杖",
  },
};

/** A credential kind as people call it, in their language. */
export function kindLabel(language: Language, kind: CredentialKind): string {
  return LABELS[language][kind];
}
