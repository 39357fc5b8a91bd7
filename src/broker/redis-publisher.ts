import Redis from 'ioredis';
import type { Logger } from '../logger';
import { BrokerUnavailableError, type BrokerPublisher, type BrokerState } from './broker';
import { redisRetryDelay } from './redis-options';

/**
 * PUBLISH <prefix><topic> <payload>. While Redis is unreachable publish() fails
 * at once (no offline queue), so a caller learns that a message was not sent
 * instead of it being delayed or lost silently.
 */
export class RedisPublisher implements BrokerPublisher {
  private readonly redis: Redis;

  constructor(url: string, private readonly prefix: string, private readonly log: Logger) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: redisRetryDelay,
      connectionName: `herald-pub-${process.pid}`,
    });
    this.redis.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis publisher error'));
    this.redis.on('ready', () => this.log.info('redis publisher connected'));
  }

  get state(): BrokerState {
    switch (this.redis.status) {
      case 'ready':
        return 'connected';
      case 'end':
        return 'closed';
      case 'wait':
      case 'connecting':
      case 'connect':
        return 'connecting';
      default:
        return 'disconnected';
    }
  }

  /** For callers that need more than PUBLISH (history, scripts): the underlying client. */
  get client(): Redis {
    return this.redis;
  }

  async publish(topic: string, payload: Buffer): Promise<void> {
    if (this.redis.status !== 'ready') throw new BrokerUnavailableError(`redis is ${this.redis.status}`);
    try {
      await this.redis.publish(this.prefix + topic, payload);
    } catch (err) {
      throw new BrokerUnavailableError(`redis publish failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
