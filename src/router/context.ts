import type { AgentEvent } from "../agent/protocol.ts";
import type { AttachmentFetcher } from "../attachments/download.ts";
import type { BuildService } from "../build/index.ts";
import type { AgentsConfig } from "../config/index.ts";
import type { Outbox } from "../delivery/port.ts";
import { userCredentialEnv } from "../identity/access.ts";
import { noticeRefusedCredential } from "../identity/outbound.ts";
import type { Inbox } from "../inbox/index.ts";
import type { InboundEvent } from "../ingress/event.ts";
import { ProjectOps } from "../projects/operations.ts";
import type { Logger } from "../shared/logger.ts";
import type { Project, Store, User } from "../store/index.ts";
import { agentKind, projectAgent, projectIdOf, switchboardAgent } from "../vm/names.ts";
import type { ContainerRuntime } from "../vm/port.ts";
import { AgentConnection } from "./agent-connection.ts";
import { admit } from "./identity-commands.ts";
import { type Language, languageFor, type MessageKey, message } from "./messages.ts";
import type { TurnReply, TurnStore } from "./turn-store.ts";

/** Live text of a turn, for platforms that show a reply as it is written (webchat today). */
export interface StreamSink {
  delta(conversationKey: string, turnId: string, text: string): void;
}

export interface RouterDeps {
  readonly inbox: Inbox;
  readonly store: Store;
  readonly turns: TurnStore;
  readonly outbox: Outbox;
  readonly runtime: ContainerRuntime;
  readonly agents: AgentsConfig;
  readonly logger: Logger;
  /** Wakes the outbox dispatcher after a reply is recorded. */
  readonly kickDelivery: () => void;
  readonly stream?: StreamSink;
  /** Deletes a person's message from their chat where the platform lets a bot (a pasted secret). */
  readonly deleteInbound?: (event: InboundEvent) => Promise<boolean>;
  readonly now?: () => number;
  /** Downloads the files people send (none: they are announced to Claude as not downloaded). */
  readonly attachments?: AttachmentFetcher;
  /** Builds project environments (absent with the process runtime). */
  readonly builds?: BuildService | undefined;
}

/** A tool permission request waiting in a conversation. */
export interface PendingApproval {
  readonly requestId: string;
  readonly agent: string;
  readonly turnId: string;
  readonly conversationKey: string;
  readonly userId: string;
  readonly tool: string;
}

/**
 * What the router's parts share: dependencies, the agent connections (one per agent), approvals waiting
 * in chats, and the turns this process is waiting on.
 */
export class RouterContext {
  readonly deps: RouterDeps;
  readonly now: () => number;
  /** Project operations with the router's powers (waking VMs, dropping bridges, telling chats). */
  readonly projects: ProjectOps;

  /** Turns this router waits on, by turn id; fed by the agent event handler. */
  readonly waiters = new Map<string, (event: AgentEvent) => void>();
  readonly #connections = new Map<string, AgentConnection>();
  #onEvent: (agent: string, event: AgentEvent) => Promise<void> = async () => {};

  constructor(deps: RouterDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.projects = new ProjectOps({
      store: deps.store,
      runtime: deps.runtime,
      builds: deps.builds,
      busyAgents: () => deps.turns.busyAgents(deps.agents.turnTimeoutMs),
      dropConnection: (agent) => this.dropConnection(agent),
      wake: (project) => this.connection(projectAgent(project.id), project.ownerUserId).ready(),
      announce: (conversationKey, key, msg, params) => this.announce(conversationKey, key, msg, params),
    });
  }

  /**
   * Posts a catalog message into a chat that is not the one being answered (a chat bound from elsewhere, a
   * deleted project's chats), through the latest reply context recorded for it; a chat never seen is skipped.
   */
  async announce(
    conversationKey: string,
    key: string,
    msg: MessageKey,
    params: Record<string, string | number> = {},
  ): Promise<void> {
    const to = await this.deps.store.conversations.replyOf<TurnReply>(conversationKey);
    if (!to) return;
    await this.reply(key, to, conversationKey, message(to.language, msg, params));
  }

  /**
   * Remembers the chat (title, how to reach it later) and that the sender is in it: what binding "my group"
   * from a private chat and adding people by name rely on.
   */
  async remember(event: InboundEvent, user: User): Promise<void> {
    const { store } = this.deps;
    await store.conversations.upsert({
      key: event.conversation.key,
      platform: event.platform,
      kind: event.conversation.kind,
      ...(event.conversation.title !== undefined && { title: event.conversation.title }),
      reply: replyTo(event, this.language(event)),
    });
    await store.conversations.noteParticipant(
      event.conversation.key,
      user.id,
      event.sender.displayName ?? null,
    );
  }

  /**
   * Tool permission requests waiting in a conversation. Kept in the store, not in memory: a router that
   * restarts while Claude waits must still recognise `/approve` for a request the old one posted.
   */
  async waitingApprovals(conversationKey: string): Promise<PendingApproval[]> {
    return (await this.deps.store.transportState.get<PendingApproval[]>(approvalsKey(conversationKey))) ?? [];
  }

  async addApproval(approval: PendingApproval): Promise<void> {
    const waiting = await this.waitingApprovals(approval.conversationKey);
    if (waiting.some((a) => a.requestId === approval.requestId)) return;
    await this.deps.store.transportState.set(approvalsKey(approval.conversationKey), [...waiting, approval]);
  }

  /** Forgets the conversation's approvals that `drop` selects; returns them. */
  async removeApprovals(
    conversationKey: string,
    drop: (a: PendingApproval) => boolean,
  ): Promise<PendingApproval[]> {
    const waiting = await this.waitingApprovals(conversationKey);
    const dropped = waiting.filter(drop);
    if (dropped.length === 0) return [];
    const kept = waiting.filter((a) => !drop(a));
    if (kept.length === 0) await this.deps.store.transportState.delete(approvalsKey(conversationKey));
    else await this.deps.store.transportState.set(approvalsKey(conversationKey), kept);
    return dropped;
  }

  setEventHandler(handler: (agent: string, event: AgentEvent) => Promise<void>): void {
    this.#onEvent = async (agent, event) => {
      await handler(agent, event);
      // After the router's own handling (the final answer first): a refused credential is explained once.
      await noticeRefusedCredential(this.deps, agent, event);
    };
  }

  /** The switchboard agent of a user: deterministic name, so restarts and retries find the same one. */
  switchboardName(user: User): string {
    return switchboardAgent(user.id);
  }

  /**
   * Where a conversation's turns go: the project VM it is bound to, else the sender's switchboard. A
   * project's VM takes messages from its owner and members only.
   */
  async targetFor(
    event: InboundEvent,
    user: User,
  ): Promise<{ agent: string; project?: Project; allowed: boolean }> {
    const binding = await this.deps.store.projects.bindingOf(event.conversation.key);
    const project = binding && (await this.deps.store.projects.get(binding.projectId));
    if (project)
      return {
        agent: projectAgent(project.id),
        project,
        allowed: await this.deps.store.projects.mayUse(project.id, user.id),
      };
    return { agent: this.switchboardName(user), allowed: true };
  }

  /**
   * Whether the sender may have this event handled now (access policy, suspension, a credential for
   * messages: see `admit`). When not, and `replyKey` is given, the sender is told why and what to do.
   */
  async isEnabled(event: InboundEvent, replyKey?: string): Promise<boolean> {
    return admit(this, event, replyKey);
  }

  language(event: InboundEvent): Language {
    return languageFor(event.sender.locale, this.deps.agents.language);
  }

  /** Project VMs are `vm-<project id>`; everything else is a switchboard. */
  kindOf(agent: string): "switchboard" | "project" {
    return agentKind(agent);
  }

  connection(agent: string, userId: string): AgentConnection {
    const kind = this.kindOf(agent);
    let connection = this.#connections.get(agent);
    if (!connection) {
      connection = new AgentConnection({
        name: agent,
        runtime: this.deps.runtime,
        ensure: async (resume) => {
          // A project VM runs its environment image and is paid for by its owner, whoever is talking.
          const project = kind === "project" ? await this.#projectOf(agent) : undefined;
          const payer = project?.ownerUserId ?? userId;
          await this.deps.runtime.ensureRunning(
            {
              name: agent,
              kind,
              env: await this.agentEnv(payer),
              labels: { "cloudclaude.user": payer },
              ...(project?.image && { image: project.image }),
            },
            { resume },
          );
        },
        cursors: this.deps.store.transportState,
        onEvent: (event) => this.#onEvent(agent, event),
        logger: this.deps.logger,
      });
      this.#connections.set(agent, connection);
    }
    return connection;
  }

  /**
   * The environment an agent of `userId` starts with: the credential that pays for its turns and the
   * daemon's settings. Never the control plane's own secrets (DESIGN §3.7).
   */
  async agentEnv(userId: string): Promise<Record<string, string>> {
    const { agents } = this.deps;
    // Only this user's own credential, or the server's when operator mode serves them (src/identity).
    const { env } = await userCredentialEnv(this.deps.store, agents, userId);
    return {
      ...env,
      CLOUDCLAUDE_PERMISSION_TIMEOUT_MS: String(agents.permissionTimeoutMs),
      CLOUDCLAUDE_AGENT_IDLE_MS: String(agents.idleMs),
      ...(agents.claudeExecutable && { CLAUDE_CODE_EXECUTABLE: agents.claudeExecutable }),
    };
  }

  async #projectOf(agent: string): Promise<Project | undefined> {
    const id = projectIdOf(agent);
    return id === undefined ? undefined : this.deps.store.projects.get(id);
  }

  /** Closes and forgets the connection to `agent` (before it is stopped or deleted on purpose). */
  async dropConnection(agent: string): Promise<void> {
    const connection = this.#connections.get(agent);
    this.#connections.delete(agent);
    await connection?.close();
  }

  existingConnection(agent: string): AgentConnection | undefined {
    return this.#connections.get(agent);
  }

  async closeConnections(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((c) => c.close()));
  }

  /** Records a system reply in the outbox (idempotent on `key`) and wakes delivery. */
  async reply(key: string, to: TurnReply, conversationKey: string, text: string): Promise<void> {
    await this.deps.outbox.enqueue({
      idempotencyKey: key,
      platform: to.platform,
      conversationKey,
      reply: to.reply,
      inboundReceivedAt: to.inboundReceivedAt,
      text,
    });
    this.deps.kickDelivery();
  }

  /** Replies to an inbound event with a catalog message. */
  async say(key: string, event: InboundEvent, msg: MessageKey, params: Record<string, string | number> = {}) {
    await this.reply(
      key,
      replyTo(event, this.language(event)),
      event.conversation.key,
      message(this.language(event), msg, params),
    );
  }
}

function approvalsKey(conversationKey: string): string {
  return `approvals:${conversationKey}`;
}

export function replyTo(event: InboundEvent, language: Language): TurnReply {
  return { platform: event.platform, reply: event.reply, inboundReceivedAt: event.receivedAt, language };
}
