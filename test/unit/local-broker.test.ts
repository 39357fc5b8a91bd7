import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerMessage, BrokerState } from '../../src/broker/broker';
import { HistoryRules, type HistoryRule } from '../../src/broker/history-rules';
import { LocalBrokerClient, LocalBrokerHost, type LocalBrokerWire } from '../../src/broker/local-broker';
import { MemoryHistory } from '../../src/broker/memory-history';
import { brokerContract, type BrokerPair } from '../contract/broker-contract';

/**
 * The primary and one worker of the local broker, joined by an in-memory channel
 * that behaves like Node's IPC: messages are copied (structured clone turns
 * Buffers into Uint8Arrays) and arrive asynchronously, in order.
 */
function localPair(rules: HistoryRule[], now?: () => number): BrokerPair & { host: LocalBrokerHost; client: LocalBrokerClient } {
  const received: BrokerMessage[] = [];
  const states: BrokerState[] = [];
  const deliver = (to: (msg: LocalBrokerWire) => void) => (msg: LocalBrokerWire) => {
    const copy = structuredClone(msg);
    setImmediate(() => to(copy));
  };
  let client: LocalBrokerClient;
  const host = new LocalBrokerHost(new MemoryHistory(new HistoryRules(rules), now), deliver((msg) => client.receive(msg)));
  client = new LocalBrokerClient(
    new HistoryRules(rules),
    deliver((msg) => host.serve(msg, deliver((answer) => client.receive(answer)))),
    { onMessage: (m) => received.push(m), onState: (s) => states.push(s) },
  );
  return {
    host,
    client,
    publisher: host,
    subscriber: client,
    received,
    states,
    publishRaw: async (topic, payload) => void (await host.publish(topic, payload)),
    close: async () => {
      await client.close();
      await host.close();
    },
  };
}

brokerContract({ name: 'local (primary + worker over IPC)', open: async (rules) => localPair(rules) });

describe('local broker', () => {
  it('a worker publishes through the primary and gets the seq back', async () => {
    const pair = localPair([{ pattern: 'h:*', maxLength: 10, maxAgeSeconds: 0 }]);
    await pair.client.subscribe('h:1');
    assert.deepEqual(await pair.client.publish('h:1', Buffer.from('a')), { seq: 1 });
    assert.deepEqual(await pair.client.publish('x', Buffer.from('b')), {});
    assert.equal(pair.received.length, 1);
    await pair.close();
  });

  it('fails pending requests when the primary goes away, and reports it', async () => {
    const states: BrokerState[] = [];
    const client = new LocalBrokerClient(new HistoryRules([]), () => {}, { onMessage: () => {}, onState: (s) => states.push(s) });
    const pending = client.history('t', 0, 10);
    client.disconnected();
    await assert.rejects(pending, /primary process is gone/);
    await assert.rejects(client.publish('t', Buffer.from('x')), /disconnected/);
    assert.deepEqual(states, ['disconnected']);
  });

  it('memory history trims by age with the clock it is given', () => {
    let now = 1_000_000;
    const memory = new MemoryHistory(new HistoryRules([{ pattern: '*', maxLength: 100, maxAgeSeconds: 10 }]), () => now);
    memory.append('t', Buffer.from('a'));
    now += 5_000;
    memory.append('t', Buffer.from('b'));
    now += 6_000;
    const page = memory.read('t', 0, 10);
    assert.deepEqual(page.entries.map((e) => e.seq), [2]);
    assert.equal(page.first, 2);
    now += 20_000;
    assert.deepEqual(memory.read('t', 0, 10), { first: null, current: 2, entries: [] });
    assert.equal(memory.append('t', Buffer.from('c')), 3, 'seqs go on after everything expired');
  });
});
