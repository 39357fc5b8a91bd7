import type Redis from 'ioredis';
import { BrokerUnavailableError, type BrokerPublisher, type BrokerState } from '../broker/broker';
import type { HistoryRules } from './history-rules';
import { publishWithHistory } from './publish-script';

/**
 * A BrokerPublisher for the Redis broker that gives messages of history topics
 * a seq and keeps them (through the Lua script), and hands the others to the
 * plain publisher. Every herald publish path (admin API, clock) goes through it.
 */
export class HistoryPublisher implements BrokerPublisher {
  /** Seq of the last message published per topic by this process (for the admin API's answer and tests). */
  lastSeq?: number;

  constructor(
    private readonly inner: BrokerPublisher & { readonly client: Redis },
    private readonly prefix: string,
    private readonly rules: HistoryRules,
  ) {}

  get state(): BrokerState {
    return this.inner.state;
  }

  async publish(topic: string, payload: Buffer): Promise<void> {
    const rule = this.rules.ruleFor(topic);
    if (!rule) return this.inner.publish(topic, payload);
    const redis = this.inner.client;
    // No offline queue: a message that cannot be stored now is refused (503), not delayed.
    if (this.inner.state !== 'connected') throw new BrokerUnavailableError(`redis is ${this.inner.state}`);
    try {
      this.lastSeq = await publishWithHistory(redis, this.prefix, topic, payload, rule);
    } catch (err) {
      throw new BrokerUnavailableError(`redis history publish failed: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
