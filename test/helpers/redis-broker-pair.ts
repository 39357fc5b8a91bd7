import type { BrokerMessage, BrokerState } from '../../src/broker/broker';
import { HistoryRules, type HistoryRule } from '../../src/broker/history-rules';
import { RedisBroker } from '../../src/broker/redis/redis-broker';
import type { RedisEndpoint } from '../../src/broker/redis/redis-connections';
import { createLogger } from '../../src/logger';
import type { BrokerPair } from '../contract/broker-contract';
import { waitFor } from '../../scripts/harness/ports';

export const PREFIX = 'herald:';
const log = createLogger('silent', 'script');

export interface RedisBrokerPair extends BrokerPair {
  publisher: RedisBroker;
  subscriber: RedisBroker;
  /** Every state the publisher reported. */
  publisherStates: BrokerState[];
}

/**
 * herald's primary (publisher, loads the function) and one worker (subscriber)
 * on the same Redis endpoint. `publishRaw` is how another program publishes
 * without herald (PUBLISH, or SPUBLISH on a cluster).
 */
export function redisBrokerPair(endpoint: RedisEndpoint, rules: HistoryRule[], publishRaw: BrokerPair['publishRaw']): RedisBrokerPair {
  const received: BrokerMessage[] = [];
  const states: BrokerState[] = [];
  const publisherStates: BrokerState[] = [];
  const common = { ...endpoint, prefix: PREFIX, rules: new HistoryRules(rules), log };
  const publisher = new RedisBroker({ ...common, loadFunction: true, handlers: { onMessage: () => {}, onState: (s) => publisherStates.push(s) } });
  const subscriber = new RedisBroker({ ...common, loadFunction: false, handlers: { onMessage: (m) => received.push(m), onState: (s) => states.push(s) } });
  return {
    publisher,
    subscriber,
    received,
    states,
    publisherStates,
    publishRaw,
    close: async () => {
      await publisher.close();
      await subscriber.close();
    },
  };
}

/**
 * Opens broker pairs on one endpoint (known once the servers run), each once its publisher is connected;
 * closeAll() closes them all again, so a test that timed out does not keep the process alive.
 */
export function pairOpener(endpoint: () => RedisEndpoint, publishRaw: BrokerPair['publishRaw'] = async () => {}) {
  const opened: RedisBrokerPair[] = [];
  return {
    open: async (rules: HistoryRule[]): Promise<RedisBrokerPair> => {
      const pair = redisBrokerPair(endpoint(), rules, publishRaw);
      opened.push(pair);
      await waitFor('publisher connected', () => pair.publisher.state === 'connected', 15_000);
      return pair;
    },
    closeAll: async (): Promise<void> => {
      await Promise.all(opened.splice(0).map((pair) => pair.close()));
    },
  };
}
