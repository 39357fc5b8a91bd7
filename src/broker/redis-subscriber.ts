import Redis from 'ioredis';
import type { Logger } from '../logger';
import type { BrokerState, BrokerSubscriber, MessageHandler, StateHandler } from './broker';
import { RedisLiveness } from './redis-liveness';
import { redisRetryDelay } from './redis-options';

/**
 * One ioredis connection in subscriber mode per worker. It subscribes to
 * <prefix><topic> for every topic that has local subscribers (plus the ones
 * pinned at start), and ioredis re-subscribes them all after a reconnect, so
 * delivery resumes by itself when Redis comes back. A Redis that stops answering
 * while connected makes the subscriber `unresponsive` (see RedisLiveness).
 */
export class RedisSubscriber implements BrokerSubscriber {
  readonly needsTopicInterest = true;
  private readonly redis: Redis;
  private readonly liveness: RedisLiveness;
  private current: BrokerState = 'connecting';
  private connectedOnce = false;
  /** Channels whose SUBSCRIBE Redis has confirmed on the current connection (for whenSubscribed). */
  private readonly confirmed = new Set<string>();
  private readonly confirming = new Map<string, Promise<void>>();
  reconnects = 0;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly onMessage: MessageHandler,
    private readonly onState: StateHandler,
    private readonly log: Logger,
    commandTimeoutMs: number,
  ) {
    this.redis = new Redis(url, {
      lazyConnect: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      retryStrategy: redisRetryDelay,
      connectionName: `herald-sub-${process.pid}`,
    });
    this.redis.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      // Channel names are ASCII (topic rules), so latin1 is an exact, cheap decode.
      this.onMessage(channel.toString('latin1', this.prefix.length), message);
    });
    this.liveness = new RedisLiveness(this.redis, commandTimeoutMs, (responsive) => {
      if (this.redis.status === 'ready') this.setState(responsive ? 'connected' : 'unresponsive', responsive ? undefined : `no answer to PING within ${commandTimeoutMs} ms`);
    });
    this.redis.on('ready', () => {
      if (this.connectedOnce) this.reconnects++;
      this.connectedOnce = true;
      this.liveness.reset();
      this.setState('connected');
    });
    this.redis.on('close', () => this.confirmed.clear());
    this.redis.on('close', () => this.setState(this.current === 'closed' ? 'closed' : 'disconnected'));
    this.redis.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis subscriber error'));
  }

  get state(): BrokerState {
    return this.current;
  }

  start(): void {
    this.liveness.start();
    this.redis.connect().catch((err: Error) => {
      this.setState('disconnected', err.message);
    });
  }

  subscribe(topic: string): void {
    this.redis.subscribe(this.prefix + topic).catch((err: Error) => this.log.warn({ topic, err: err.message }, 'subscribe failed'));
  }

  /**
   * Resolves once Redis has confirmed this worker's subscription to the topic, so
   * every message published from then on reaches it (recovery reads history only
   * after that). Waits through an outage; concurrent callers share one SUBSCRIBE.
   */
  whenSubscribed(topic: string): Promise<void> {
    if (this.confirmed.has(topic)) return Promise.resolve();
    let pending = this.confirming.get(topic);
    if (!pending) {
      const mine: Promise<void> = this.redis.subscribe(this.prefix + topic).then(
        () => {
          // An unsubscribe in the meantime voids the confirmation.
          if (this.confirming.get(topic) === mine) this.confirmed.add(topic);
          this.confirming.delete(topic);
        },
        (err: Error) => {
          if (this.confirming.get(topic) === mine) this.confirming.delete(topic);
          throw err;
        },
      );
      this.confirming.set(topic, (pending = mine));
    }
    return pending;
  }

  unsubscribe(topic: string): void {
    this.confirmed.delete(topic);
    this.confirming.delete(topic);
    this.redis.unsubscribe(this.prefix + topic).catch((err: Error) => this.log.warn({ topic, err: err.message }, 'unsubscribe failed'));
  }

  async close(): Promise<void> {
    this.liveness.stop();
    this.setState('closed');
    this.redis.disconnect();
  }

  private setState(state: BrokerState, detail?: string): void {
    if (state === this.current || this.current === 'closed') return;
    this.current = state;
    this.onState(state, detail);
  }
}
