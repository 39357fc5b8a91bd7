import Redis from 'ioredis';
import type { Logger } from '../logger';
import { BrokerUnavailableError, type BrokerPublisher, type BrokerState } from './broker';
import { RedisLiveness } from './redis-liveness';
import { redisRetryDelay } from './redis-options';

/**
 * PUBLISH <prefix><topic> <payload>. While Redis is unreachable or unresponsive
 * publish() fails at once (no offline queue), so a caller learns that a message
 * was not sent instead of it being delayed or lost silently. A command that gets
 * no answer within `commandTimeoutMs` fails too; it was written to Redis, so
 * Redis may still carry it out if it comes back.
 */
export class RedisPublisher implements BrokerPublisher {
  private readonly redis: Redis;
  private readonly liveness: RedisLiveness;

  constructor(url: string, private readonly prefix: string, private readonly log: Logger, commandTimeoutMs: number) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      retryStrategy: redisRetryDelay,
      connectionName: `herald-pub-${process.pid}`,
    });
    this.liveness = new RedisLiveness(this.redis, commandTimeoutMs, (responsive) => {
      if (responsive) this.log.info('redis publisher answers again');
      else this.log.warn({ commandTimeoutMs }, 'redis publisher unresponsive: publishes are refused until it answers');
    });
    this.redis.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis publisher error'));
    this.redis.on('ready', () => {
      this.liveness.reset();
      this.log.info('redis publisher connected');
    });
    this.liveness.start();
  }

  get state(): BrokerState {
    switch (this.redis.status) {
      case 'ready':
        return this.liveness.responsive ? 'connected' : 'unresponsive';
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
    const state = this.state;
    if (state !== 'connected') throw new BrokerUnavailableError(`redis is ${state === 'unresponsive' ? state : this.redis.status}`);
    try {
      await this.redis.publish(this.prefix + topic, payload);
    } catch (err) {
      throw new BrokerUnavailableError(`redis publish failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.liveness.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
