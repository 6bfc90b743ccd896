import type { AgentEvent } from "../agent/protocol.ts";
import type { OutboundMessage, Outbox } from "../delivery/port.ts";
import { message } from "../router/messages.ts";
import type { TurnStore } from "../router/turn-store.ts";
import { redactSecrets } from "../secrets/redact.ts";
import type { Logger } from "../shared/logger.ts";
import type { Store } from "../store/index.ts";
import { isCredentialRefusal } from "./credentials.ts";
import { kindLabel } from "./labels.ts";

/**
 * The outbox as the router sees it: every text is redacted of known secret values and credential shapes
 * before it is recorded, so neither the outbox table nor any chat ever holds one.
 */
export function guardOutbox<T extends Outbox>(inner: T): T {
  const enqueue = (msg: OutboundMessage): Promise<boolean> =>
    inner.enqueue({ ...msg, text: redactSecrets(msg.text) });
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "enqueue") return enqueue;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export interface RefusalNoticeDeps {
  readonly store: Store;
  readonly turns: Pick<TurnStore, "get">;
  readonly outbox: Outbox;
  readonly logger: Logger;
  readonly kickDelivery: () => void;
}

/**
 * Called with every agent event after the router handled it. A turn that ended because Claude refused the
 * person's own credential (the daemon's structured `errorKind` / `apiErrorStatus`, never the reply's text)
 * tells them how to renew it, once, and marks the credential rejected, so later refusals (and a replayed
 * event) stay quiet until a new credential is connected.
 * Never throws: a notice that cannot be posted is logged.
 */
export async function noticeRefusedCredential(
  deps: RefusalNoticeDeps,
  agent: string,
  event: AgentEvent,
): Promise<void> {
  if (event.type !== "turn_finished" || !isCredentialRefusal(event)) return;
  try {
    const turn = await deps.turns.get(event.turnId);
    // An agent speaks only for its own turns (as in the router's event handler).
    if (!turn || turn.agent !== agent || turn.conversationKey !== event.conversation) return;
    const own = (await deps.store.credentials.list(turn.userId)).find((c) => c.slot === "claude");
    if (!own) {
      // The server's credential (operator mode) was refused: the operator's to fix, not the person's.
      deps.logger.error(
        { turn: turn.id, kind: event.errorKind, status: event.apiErrorStatus },
        "Claude refused the server's own credential; check ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN",
      );
      return;
    }
    if (own.status === "rejected") return; // announced already; quiet until a new credential comes
    const language = turn.reply.language;
    // Keyed by the credential's version, so two turns refused at once (or a crash between the notice and
    // the mark, and the event replayed) still post it once; the mark then keeps later refusals quiet.
    await deps.outbox.enqueue({
      idempotencyKey: `credential-rejected:${turn.userId}:${own.updatedAt}`,
      platform: turn.reply.platform,
      conversationKey: turn.conversationKey,
      reply: turn.reply.reply,
      inboundReceivedAt: turn.reply.inboundReceivedAt,
      text: message(language, "credentialRejected", { kind: kindLabel(language, own.kind) }),
      extras: { followup: true },
    });
    await deps.store.credentials.markRejected(turn.userId, "claude");
    deps.kickDelivery();
  } catch (error) {
    deps.logger.error({ err: error }, "could not tell a person that their credential was refused");
  }
}
