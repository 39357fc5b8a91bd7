import Redis from 'ioredis';
import type { BrokerState, BrokerSubscriber } from '../broker/broker';
import { redisRetryDelay } from '../broker/redis-options';
import type { HeraldConfig } from '../config';
import type { Logger } from '../logger';
import { RecoveryManager } from '../transport/recovery';
import { HistoryReader } from './history-reader';
import { HistoryRules } from './history-rules';

/** Messages per XRANGE page when recovering. */
const PAGE_SIZE = 1000;

export interface WorkerHistory {
  recovery: RecoveryManager;
  reader?: HistoryReader;
  /** Forward the subscriber's state: a lost Redis connection makes cached reads unsafe to share. */
  onBrokerState(state: BrokerState): void;
  /** The worker stopped receiving a topic from Redis. */
  onTopicLapse(topic: string): void;
  close(): Promise<void>;
}

/**
 * A worker's history side: a Redis connection for reads (its own, since the
 * subscriber connection is in pub/sub mode), the coalescing reader and the
 * recovery manager. Without history rules or Redis only envelopes work, and
 * every ?since= is answered with a "no-history" gap.
 */
export function createWorkerHistory(config: HeraldConfig, subscriber: BrokerSubscriber, log: Logger): WorkerHistory {
  const rules = new HistoryRules(config.history.rules);
  let redis: Redis | undefined;
  let reader: HistoryReader | undefined;
  if (config.broker === 'redis' && rules.enabled) {
    // Reads wait through an outage (offline queue, endless retries): recovery resumes when Redis returns.
    redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, retryStrategy: redisRetryDelay, connectionName: `herald-history-${process.pid}` });
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis history reader error'));
    reader = new HistoryReader(redis, config.redis.prefix, PAGE_SIZE, config.history.readCacheMs, log);
  }
  const recovery = new RecoveryManager({ rules, reader, whenSubscribed: subscriber.whenSubscribed?.bind(subscriber), log });
  return {
    recovery,
    reader,
    onBrokerState: (state) => {
      if (state !== 'connected') reader?.invalidateAll();
    },
    onTopicLapse: (topic) => reader?.invalidate(topic),
    close: async () => {
      reader?.invalidateAll();
      redis?.disconnect();
    },
  };
}
