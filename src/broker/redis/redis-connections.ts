import Redis, { type RedisOptions } from 'ioredis';

/** Where herald's Redis lives and how long a command may take. */
export interface RedisEndpoint {
  url: string;
  /** A command not answered within this time fails (publish answers 503; the broker counts as unresponsive). */
  commandTimeoutMs: number;
}

/** Reconnect quickly at first, then every 2 s: an outage must end by itself, never with a crash. */
export function redisRetryDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

/**
 * The two kinds of connection a broker opens. Neither queues commands while
 * Redis is unreachable: a publish is refused at once rather than delayed, and
 * the subscriber resubscribes by itself after a reconnect.
 *
 * - commands: PUBLISH, FCALL, history reads, FUNCTION LOAD; each command times out.
 * - subscriber: SUBSCRIBE mode. No command timeout (herald resubscribes after a
 *   reconnect itself, so it knows when each topic is confirmed again).
 */
export function openRedis(endpoint: RedisEndpoint, role: 'commands' | 'subscriber'): Redis {
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: redisRetryDelay,
    connectionName: `herald-${role}-${process.pid}`,
  };
  const options: RedisOptions =
    role === 'commands'
      ? { ...common, maxRetriesPerRequest: 1, commandTimeout: endpoint.commandTimeoutMs }
      : { ...common, maxRetriesPerRequest: null, autoResubscribe: false };
  return new Redis(endpoint.url, options);
}
