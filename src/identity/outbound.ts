import type { OutboundMessage, Outbox } from "../delivery/port.ts";
import { message } from "../router/messages.ts";
import type { TurnStore } from "../router/turn-store.ts";
import { redactSecrets } from "../secrets/redact.ts";
import type { Logger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import { isCredentialRejection } from "./credentials.ts";
import { kindLabel } from "./labels.ts";

export interface OutboundGuardDeps {
  readonly store: Store;
  readonly turns: TurnStore;
  readonly logger: Logger;
}

/**
 * The outbox as the router sees it: every text is redacted of known secret values and credential shapes
 * before it is recorded (so neither the outbox table nor any chat ever holds one), and a turn that ended
 * because Claude refused the person's own credential is followed by how to renew it, once per refusal:
 * the credential is marked rejected, and only the call that marked it posts the notice.
 */
export function guardOutbox<T extends Outbox>(inner: T, deps: OutboundGuardDeps): T {
  const enqueue = async (msg: OutboundMessage): Promise<boolean> => {
    const added = await inner.enqueue({ ...msg, text: redactSecrets(msg.text) });
    if (added && isCredentialRejection(msg.text)) {
      await noticeRejection(inner, deps, msg).catch((error: unknown) =>
        deps.logger.error({ err: error }, "could not tell a person that their credential was rejected"),
      );
    }
    return added;
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "enqueue") return enqueue;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function noticeRejection(outbox: Outbox, deps: OutboundGuardDeps, msg: OutboundMessage): Promise<void> {
  const turnId = /^turn:(.+):final$/.exec(msg.idempotencyKey)?.[1];
  if (!turnId) return;
  const turn = await deps.turns.get(turnId);
  if (!turn) return;
  const own = (await deps.store.credentials.list(turn.userId)).find((c) => c.slot === "claude");
  if (!own) {
    // The server's credential (operator mode) was refused: the operator's to fix, not the person's.
    deps.logger.error(
      { turn: turnId },
      "Claude rejected the server's own credential; check ANTHROPIC_API_KEY",
    );
    return;
  }
  if (!(await deps.store.credentials.markRejected(turn.userId, "claude"))) return;
  const language = turn.reply.language;
  await outbox.enqueue({
    idempotencyKey: `credential-rejected:${turnId}`,
    platform: turn.reply.platform,
    conversationKey: turn.conversationKey,
    reply: turn.reply.reply,
    inboundReceivedAt: turn.reply.inboundReceivedAt,
    text: message(language, "credentialRejected", { kind: kindLabel(language, own.kind) }),
  });
}
