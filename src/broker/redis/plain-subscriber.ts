import type { Logger } from '../../logger';
import type { BrokerState } from '../broker';
import { openRedis, type RedisEndpoint } from './redis-connections';
import { RedisLink, SUBSCRIBER_PROBE_INTERVAL_MS } from './redis-link';
import { SubscriptionSet } from './subscription-set';
import type { RawMessageHandler, TopicSubscriber } from './topic-subscriber';

/**
 * Classic pub/sub on one connection: the standalone server, or the master the
 * sentinels name (after a failover the connection is dropped, reconnects to the
 * new master and every topic is subscribed and confirmed again).
 */
export class PlainSubscriber implements TopicSubscriber {
  private readonly link: RedisLink;
  private readonly set: SubscriptionSet;

  constructor(endpoint: RedisEndpoint, channelsOf: (topic: string) => string[], onMessage: RawMessageHandler, onChange: () => void, log: Logger) {
    const redis = openRedis(endpoint, 'subscriber');
    this.link = new RedisLink(redis, endpoint.commandTimeoutMs, onChange, SUBSCRIBER_PROBE_INTERVAL_MS);
    const link = this.link;
    this.set = new SubscriptionSet(
      {
        get ready() {
          return link.ready;
        },
        subscribe: (channels) => redis.subscribe(...channels),
        unsubscribe: (channels) => redis.unsubscribe(...channels),
      },
      channelsOf,
      (err, topics) => log.warn({ err: err.message, topics: topics.length }, 'redis subscribe failed'),
    );
    redis.on('messageBuffer', onMessage);
    redis.on('close', () => this.set.lost());
    redis.on('ready', () => this.set.resubscribeAll());
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis subscriber connection error'));
    redis.connect().catch(() => {});
  }

  get state(): BrokerState {
    return this.link.state;
  }

  get reconnects(): number {
    return this.link.reconnects;
  }

  get commandsSent(): number {
    return this.set.commandsSent;
  }

  subscribe(topic: string): Promise<void> {
    return this.set.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.set.unsubscribe(topic);
  }

  /** One connection carries every topic. PING is valid in subscriber mode; refused at once while the connection is down (no offline queue). */
  async fence(): Promise<void> {
    await this.link.redis.ping();
  }

  close(): void {
    this.link.close();
  }
}
