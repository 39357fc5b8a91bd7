import type { Logger } from '../../logger';
import type { BrokerState } from '../broker';
import type { ClusterLink } from './cluster-link';
import { openShardSubscriber, type RedisEndpoint } from './redis-connections';
import { combinedState, RedisLink, SUBSCRIBER_PROBE_INTERVAL_MS } from './redis-link';
import { ShardSubscriptions, type ShardNode } from './shard-subscriptions';
import type { RawMessageHandler, TopicSubscriber } from './topic-subscriber';

/**
 * Sharded pub/sub on a Redis Cluster: one subscriber connection per master
 * that serves a wanted channel, opened on first use, each watched by a PING
 * probe. Routing follows the cluster client's slot map.
 *
 * herald keeps these connections itself rather than using ioredis's
 * `shardedSubscribers`, because herald must know when each channel is confirmed
 * again after a reconnect, a failover or a slot move, and ioredis resubscribes
 * without reporting it (see docs/scaling-out.md).
 *
 * It is `connected` when every master holding a wanted channel is connected and
 * answering, and every wanted slot has a master.
 */
export class ShardedSubscriber implements TopicSubscriber {
  private readonly links = new Map<string, RedisLink>();
  private readonly subscriptions: ShardSubscriptions;
  private closedReconnects = 0;
  private connectedOnce = false;
  private closed = false;

  constructor(
    private readonly endpoint: RedisEndpoint,
    cluster: ClusterLink,
    channelsOf: (topic: string) => string[],
    topicOf: (channel: string) => string | undefined,
    private readonly onMessage: RawMessageHandler,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {
    this.subscriptions = new ShardSubscriptions(
      { masterOf: (slot) => cluster.masterOf(slot), refresh: () => cluster.refreshSlots() },
      {
        get: (key) => this.node(key),
        isReady: (key) => this.links.get(key)?.ready ?? false,
        close: (key) => this.closeNode(key),
      },
      channelsOf,
      topicOf,
      (err, topics) => log.warn({ err: err.message, topics: topics.length }, 'redis ssubscribe failed'),
    );
    cluster.cluster.on('refresh', () => {
      this.subscriptions.topologyChanged();
      this.onChange();
    });
  }

  get state(): BrokerState {
    if (this.closed) return 'closed';
    const states = this.subscriptions.nodesInUse().map((key) => this.links.get(key)?.state ?? 'connecting');
    if (this.subscriptions.orphaned) states.push(this.connectedOnce ? 'disconnected' : 'connecting');
    const state = states.length === 0 ? 'connected' : combinedState(states);
    if (state === 'connected') this.connectedOnce = true;
    return state;
  }

  get reconnects(): number {
    let sum = this.closedReconnects;
    for (const link of this.links.values()) sum += link.reconnects;
    return sum;
  }

  get commandsSent(): number {
    return this.subscriptions.commandsSent;
  }

  subscribe(topic: string): Promise<void> {
    return this.subscriptions.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.subscriptions.unsubscribe(topic);
  }

  /** A PING to each master holding one of the topic's channels (raw and sequenced may live on two). */
  async fence(topic: string): Promise<void> {
    const keys = this.subscriptions.nodesOf(topic);
    if (keys === undefined) throw new Error(`no master serves a slot of topic ${topic} now`);
    await Promise.all(
      keys.map((key) => {
        const link = this.links.get(key);
        return link ? link.redis.ping() : Promise.reject(new Error(`no subscriber connection to ${key}`));
      }),
    );
  }

  close(): void {
    this.closed = true;
    this.subscriptions.close();
    for (const key of [...this.links.keys()]) this.closeNode(key);
  }

  private node(key: string): ShardNode {
    const link = this.links.get(key) ?? this.open(key);
    return {
      get ready() {
        return link.ready;
      },
      ssubscribe: (channels) => link.redis.ssubscribe(...channels),
      sunsubscribe: (channels) => link.redis.sunsubscribe(...channels),
    };
  }

  private open(key: string): RedisLink {
    const at = key.lastIndexOf(':');
    const redis = openShardSubscriber(this.endpoint, { host: key.slice(0, at), port: Number(key.slice(at + 1)) });
    const link = new RedisLink(redis, this.endpoint.commandTimeoutMs, this.onChange, SUBSCRIBER_PROBE_INTERVAL_MS);
    this.links.set(key, link);
    // Events of a connection that was replaced by a newer one to the same master say nothing about the current one.
    const current = () => this.links.get(key) === link;
    redis.on('smessageBuffer', this.onMessage);
    redis.on('ready', () => current() && this.subscriptions.nodeReady(key));
    redis.on('close', () => current() && this.subscriptions.nodeLost(key));
    // ioredis emits 'moved' for an unsolicited SUNSUBSCRIBE (the master lost the slot) and for a MOVED reply to SSUBSCRIBE.
    redis.on('moved', () => current() && this.subscriptions.nodeMoved(key));
    redis.on('error', (err: Error) => this.log.debug({ err: err.message, node: key }, 'redis shard subscriber error'));
    redis.connect().catch(() => {});
    return link;
  }

  private closeNode(key: string): void {
    const link = this.links.get(key);
    if (!link) return;
    this.links.delete(key);
    this.closedReconnects += link.reconnects;
    link.close();
    this.onChange();
  }
}
