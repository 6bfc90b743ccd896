import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { Kysely } from "kysely";
import { AttachmentFetcher } from "../attachments/download.ts";
import { createBuildService, registryAuthOf } from "../build/index.ts";
import type { Config } from "../config/index.ts";
import { mountConnect } from "../connect/routes.ts";
import {
  createOutbox,
  createSenders,
  LiveReplies,
  OutboxDispatcher,
  RateGovernor,
  type TurnStreamSink,
  WebchatHub,
} from "../delivery/index.ts";
import { createHttpApp } from "../http/app.ts";
import { type RunningServer, startHttpServer } from "../http/server.ts";
import { stopAgentsOf } from "../identity/agents.ts";
import { guardOutbox } from "../identity/outbound.ts";
import { createInbox, type Inbox } from "../inbox/index.ts";
import { createWebhookPlatforms, mountWebhookRoutes } from "../ingress/index.ts";
import { createTransports } from "../ingress/transports/index.ts";
import { purgeApprovalState } from "../router/approvals.ts";
import { Router, TurnStore } from "../router/index.ts";
import { assertKeysPresent, loadSecrets, redactSecrets } from "../secrets/index.ts";
import { KeyHolders } from "../secrets/presence.ts";
import type { Logger } from "../shared/logger.ts";
import { createMetrics, registerInboxGauges } from "../shared/metrics.ts";
import { openStore, type Store } from "../store/index.ts";
import type { Database } from "../store/schema.ts";
import { createVmManager } from "../vm/docker/pool.ts";
import type { ContainerRuntime } from "../vm/port.ts";
import { ProcessRuntime } from "../vm/process-runtime.ts";
import { VmSupervisor } from "../vm/supervisor.ts";
import { mountWebchat, WebchatStream } from "../webchat/routes.ts";
import { notifyOnEnqueue } from "./notify-inbox.ts";

const CLI = fileURLToPath(new URL("../../bin/cloudclaude.js", import.meta.url));

/**
 * The composition root: the only place that knows which implementation serves each port. Everything
 * below receives its dependencies; nothing reads `process.env` on its own (DESIGN §3.10).
 */
export interface System {
  readonly store: Store;
  readonly inbox: Inbox;
  readonly http: Hono;
  /** Starts the workers and the listener; resolves with the running server. */
  listen(): Promise<RunningServer>;
  /**
   * Orderly stop: stop intake (listener, transports), let the router hand its leases back, finish the
   * delivery in flight, then close dependencies. Each step runs even if an earlier one failed. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * What this process runs. `all` (the default): everything. `ingress`: only intake (webhooks, long-lived
 * transports, health): the stateless replicas of a scaled deployment, which share the inbox with routers
 * elsewhere through PostgreSQL.
 */
export type Role = "all" | "ingress";

export async function createSystem(config: Config, logger: Logger, role: Role = "all"): Promise<System> {
  const metrics = createMetrics();
  const secrets = loadSecrets(config, { create: true });
  if (secrets.created)
    logger.warn(
      { file: config.secrets.keyFile },
      "created the master key file: back it up apart from the database",
    );
  const { store, handle, appliedMigrations } = await openStore(config.database, { secrets: secrets.box });
  if (appliedMigrations.length > 0) logger.info({ migrations: appliedMigrations }, "database migrated");
  // This server holds the master keys while it runs: `keys rotate` refuses to run meanwhile (and we refuse
  // to start during one).
  let keyHolder: { stop(): Promise<void> } | undefined;
  try {
    keyHolder = await new KeyHolders(handle.db).serve();
    await assertKeysPresent(store, secrets.box.keyIds);
  } catch (error) {
    await keyHolder?.stop().catch(() => {});
    await store.close();
    throw error;
  }
  const baseInbox = createInbox(handle, config.inbox);
  registerInboxGauges(metrics, baseInbox);

  const hub = new WebchatHub();
  const outbox = createOutbox(handle);
  const senders = createSenders(config.platforms, hub);
  // One pace for everything this process sends: replies, streamed edits, typing indicators.
  const governor = new RateGovernor(config.delivery);
  const live = new LiveReplies({
    db: handle.db,
    senders,
    governor,
    logger,
    target: async (turnId) => {
      const turn = await turns.get(turnId);
      // An ended turn's answer owns its message: no stale update may overwrite it (another process's).
      if (turn?.status !== "running") return undefined;
      const identities = await store.identities.listForUser(turn.userId);
      return {
        platform: turn.reply.platform,
        conversationKey: turn.conversationKey,
        reply: turn.reply.reply,
        inboundReceivedAt: turn.reply.inboundReceivedAt,
        recipient: identities.find((i) => i.platform === turn.reply.platform)?.platformUserId,
      };
    },
  });
  const dispatcher = new OutboxDispatcher({
    outbox,
    senders,
    governor,
    closeLive: (streamKey) => live.close(streamKey),
    attachAfterChunks: config.delivery.attachAfterChunks,
    logger,
    // A message claimed by a process that then crashed waits for its lease to lapse, and holds the
    // conversation's later replies behind it: keep that short (like the router's), the sends shorter still.
    leaseMs: 15_000,
    sendTimeoutMs: 10_000,
  });
  const turns = new TurnStore(handle.db);
  const { runtime, supervisor } = createRuntime(config, handle.db, turns, logger);
  const stream = new WebchatStream();
  // Text deltas go to the webchat page and to the platforms' live messages (see LiveReplies).
  const streams: TurnStreamSink = {
    delta: (conversation, turnId, raw) => {
      const text = redactSecrets(raw);
      stream.delta(conversation, turnId, text);
      if (!conversation.startsWith("webchat:")) live.delta(conversation, turnId, text);
    },
    started: (conversation, turnId) => live.started(conversation, turnId),
    ended: (conversation, turnId) => live.ended(conversation, turnId),
    restarted: (conversation, turnId) => live.restarted(conversation, turnId),
  };
  // Environment builds (Docker runtime only), reporting to the chats that asked; secrets redacted.
  const builds =
    config.agents.runtime === "docker"
      ? createBuildService(config, {
          db: handle.db,
          store,
          outbox: guardOutbox(outbox),
          kickDelivery: () => dispatcher.kick(),
          logger: logger.child({ component: "builds" }),
          // Like the router's leases: a build whose server was killed is taken over soon after a restart.
          leaseMs: 15_000,
        })
      : undefined;
  const router = new Router({
    consumerId: `${hostname()}:${process.pid}`,
    inbox: baseInbox,
    store,
    turns,
    // Redacts secrets from everything the router says.
    outbox: guardOutbox(outbox),
    runtime,
    agents: config.agents,
    logger,
    kickDelivery: () => dispatcher.kick(),
    stream: streams,
    builds,
    deleteInbound: async (event) =>
      (await senders.get(event.platform)?.deleteInbound?.(event.reply)) ?? false,
    attachments: new AttachmentFetcher({
      platforms: config.platforms,
      maxBytes: config.agents.attachmentMaxBytes ?? 20 * 1024 * 1024,
      timeoutMs: config.agents.attachmentTimeoutMs ?? 60_000,
      logger,
    }),
  });
  // Whatever stores an inbound message wakes the router at once instead of at its next poll.
  const inbox = notifyOnEnqueue(baseInbox, () => router.kick());

  const http = createHttpApp({
    logger,
    metrics,
    readiness: [
      {
        name: "store",
        async check() {
          const { ok, ...detail } = await store.health();
          return { ok, detail };
        },
      },
    ],
  });
  mountConnect(http, {
    store,
    outbox,
    kickDelivery: () => dispatcher.kick(),
    logger,
    // Agents with a running turn are skipped: they get the new credential when they next sleep.
    restartAgentsOf: async (userId) => {
      const busyAgents = () => turns.busyAgents(config.agents.turnTimeoutMs + 5 * 60_000);
      await stopAgentsOf({ store, runtime, busyAgents }, userId, "credential");
    },
  });
  const platforms = createWebhookPlatforms(config.platforms);
  mountWebhookRoutes(http, { platforms, inbox, logger, metrics });
  const webchat =
    config.agents.webchat && role === "all" ? mountWebchat(http, { inbox, hub, stream }) : undefined;
  const transports = createTransports({ config: config.platforms, inbox, store, logger });
  logger.info(
    {
      webhooks: platforms.map((p) => `/webhooks/${p.platform}`),
      transports: transports.map((t) => t.name),
      webchat: config.agents.webchat,
    },
    platforms.length + transports.length > 0
      ? "chat platforms enabled"
      : "no chat platform configured yet (see .env.example)",
  );

  // Handled items are kept for the dedupe window, then purged.
  const purgeTimer = setInterval(() => {
    baseInbox.purge().catch((error: unknown) => logger.warn({ err: error }, "inbox purge failed"));
    purgeApprovalState(handle.db).catch((error: unknown) =>
      logger.warn({ err: error }, "approval state purge failed"),
    );
  }, 15 * 60_000);
  purgeTimer.unref();

  let server: RunningServer | undefined;
  let stopping: Promise<void> | undefined;

  return {
    store,
    inbox,
    http,
    async listen() {
      // Listen first: health checks and webhooks answer while the workers catch up on a backlog.
      server = await startHttpServer(http, config.http);
      if (role === "all") {
        // Before the router: the store must agree with the engines before turns wake agents.
        await supervisor?.start();
        router.start();
        dispatcher.start();
        builds?.start();
      }
      for (const transport of transports) {
        transport
          .start()
          .catch((error: unknown) =>
            logger.error({ err: error, transport: transport.name }, "transport failed"),
          );
      }
      return server;
    },
    stop() {
      stopping ??= (async () => {
        const steps: Array<[string, () => Promise<void>]> = [
          [
            "http server",
            async () => {
              const closing = server?.close(config.shutdownTimeoutMs);
              webchat?.closeStreams(); // long-lived streams would hold the drain open
              await closing;
            },
          ],
          ["transports", async () => void (await Promise.all(transports.map((t) => t.stop())))],
          ["purge timer", async () => clearInterval(purgeTimer)],
          // After intake: leases in hand are given back so the next start resumes them at once.
          ["router", () => router.stop()],
          // Live updates stop first: the final replies the dispatcher still sends take their messages over.
          ["live replies", () => live.stop()],
          ["delivery", () => dispatcher.stop()],
          ["vm supervisor", async () => supervisor?.stop()],
          // A build in flight gives its lease back: the next start takes it over.
          ["builds", async () => builds?.stop()],
          ["agents", () => runtime.close()],
          ["inbox", () => baseInbox.close()],
          ["key holder", async () => keyHolder?.stop()],
          ["store", () => store.close()],
        ];
        for (const [name, step] of steps) {
          const started = Date.now();
          try {
            await step();
          } catch (error) {
            logger.error({ err: error }, `failed to close ${name}`);
          }
          logger.debug({ step: name, ms: Date.now() - started }, "shutdown step done");
        }
      })();
      return stopping;
    },
  };
}

/**
 * Where agents run. `docker`: the VM Manager over the configured pool of hosts, with its supervisor (idle
 * policy, health checks, reconciler). `process`: local child processes, for development.
 */
function createRuntime(
  config: Config,
  db: Kysely<Database>,
  turns: TurnStore,
  logger: Logger,
): { runtime: ContainerRuntime; supervisor?: VmSupervisor } {
  if (config.agents.runtime === "process") {
    logger.warn(
      "agents run as local processes (CLOUDCLAUDE_RUNTIME=process): nothing isolates them from this machine",
    );
    return { runtime: new ProcessRuntime({ root: path.join(config.dataDir, "agents"), cli: CLI, logger }) };
  }
  // Project VMs pull their environment images from the registry the builds push to.
  const manager = createVmManager(config.docker, db, logger, { registryAuth: registryAuthOf(config.build) });
  const supervisor = new VmSupervisor({
    manager,
    logger,
    switchboardIdleMs: config.docker.switchboardIdleMs,
    projectIdleMs: config.docker.projectIdleMs,
    // A turn older than its deadline (plus slack) is no longer running, whatever its record says.
    busyAgents: () => turns.busyAgents(config.agents.turnTimeoutMs + 5 * 60_000),
    singleProcess: config.database.kind === "sqlite",
    sweepMs: Math.min(
      30_000,
      Math.max(1_000, Math.min(config.docker.switchboardIdleMs, config.docker.projectIdleMs) / 4),
    ),
  });
  logger.info(
    { hosts: manager.hosts.map((h) => h.name), image: config.docker.image, network: config.docker.network },
    "agents run in Docker containers",
  );
  return { runtime: manager, supervisor };
}
