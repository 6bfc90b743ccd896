/**
 * Redaction of secret values from text that leaves the control plane: log lines and agent output on its
 * way to a chat. Two nets: the exact values this process knows to be secret (the server's own credentials,
 * and each person's credential once decrypted), and the shapes of credentials people commonly paste.
 */

export const REDACTED = "[redacted]";

/** Credential shapes: Anthropic API keys and OAuth tokens, GitHub tokens, AWS access keys, private keys. */
export const SECRET_SHAPES: readonly RegExp[] = [
  /sk-ant-[a-z]{2,4}\d{2}-[A-Za-z0-9_-]{20,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{22,}\b/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

const MIN_LENGTH = 8;

export class SecretRedactor {
  readonly #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Remembers a secret value (too short values are ignored: they would redact ordinary words). */
  add(value: string | undefined): void {
    if (value === undefined || value.length < MIN_LENGTH || this.#values.has(value)) return;
    this.#values.add(value);
    // Log lines are JSON: a value with quotes or backslashes appears escaped there.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.#values.add(escaped);
    const sorted = [...this.#values].sort((a, b) => b.length - a.length);
    this.#pattern = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
  }

  get size(): number {
    return this.#values.size;
  }

  redact(text: string): string {
    let out = this.#pattern ? text.replace(this.#pattern, REDACTED) : text;
    for (const shape of SECRET_SHAPES) {
      shape.lastIndex = 0;
      out = out.replace(shape, REDACTED);
    }
    return out;
  }
}

/** The process's known secrets: fed by the composition root and by credential decryption. */
export const knownSecrets = new SecretRedactor();

/** `text` with every known secret value and every credential-shaped string replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  return knownSecrets.redact(text);
}

/** Whether `text` holds something shaped like a credential (a person pasted one into a chat). */
export function looksLikeSecret(text: string): boolean {
  return SECRET_SHAPES.some((shape) => {
    shape.lastIndex = 0;
    return shape.test(text);
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
