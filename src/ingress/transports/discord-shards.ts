import {
  CloseCodes,
  managerToFetchingStrategyOptions,
  SimpleContextFetchingStrategy,
  SimpleShardingStrategy,
  type WebSocketManager,
  WebSocketShard,
  type WebSocketShardDestroyOptions,
} from "@discordjs/ws";
import type { GatewaySendPayload } from "discord-api-types/v10";

/**
 * `SimpleShardingStrategy` that keeps its shards reachable (to force a resume and read their status), hands
 * them to the transport for events, and closes them with a resumable code, never wiping the session.
 */
export class ShardTracker extends SimpleShardingStrategy {
  readonly #manager: WebSocketManager;
  readonly #attach: (shard: WebSocketShard) => void;
  readonly #shards = new Map<number, WebSocketShard>();
  #closed = false;
  /** True while we destroy shards; the session-clearing call the library makes then is ignored. */
  destroying = false;

  constructor(manager: WebSocketManager, attach: (shard: WebSocketShard) => void) {
    super(manager);
    this.#manager = manager;
    this.#attach = attach;
  }

  shard(id: number): WebSocketShard | undefined {
    return this.#shards.get(id);
  }

  override async spawn(shardIds: number[]): Promise<void> {
    if (this.#closed) return;
    const options = await managerToFetchingStrategyOptions(this.#manager);
    for (const id of shardIds) {
      const shard = new WebSocketShard(new SimpleContextFetchingStrategy(this.#manager, options), id);
      this.#attach(shard);
      this.#shards.set(id, shard);
    }
  }

  override async connect(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#shards.values()].map((shard) => shard.connect()));
  }

  override async destroy(options: Omit<WebSocketShardDestroyOptions, "recover"> = {}): Promise<void> {
    this.destroying = true;
    try {
      await Promise.all(
        [...this.#shards.values()].map((shard) => shard.destroy({ code: CloseCodes.Resuming, ...options })),
      );
    } finally {
      this.destroying = false;
    }
    this.#shards.clear();
  }

  override async send(shardId: number, payload: GatewaySendPayload): Promise<void> {
    const shard = this.#shards.get(shardId);
    if (shard === undefined) throw new RangeError(`Shard ${shardId} not found`);
    await shard.send(payload);
  }

  override async fetchStatus(): ReturnType<SimpleShardingStrategy["fetchStatus"]> {
    // The parent's (empty) collection, filled with our shards.
    const status = await super.fetchStatus();
    for (const [id, shard] of this.#shards) status.set(id, shard.status);
    return status;
  }

  async shutdown(options: Omit<WebSocketShardDestroyOptions, "recover">): Promise<void> {
    this.#closed = true;
    await this.destroy(options);
  }
}
