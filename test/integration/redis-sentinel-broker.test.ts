import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { BrokerUnavailableError } from '../../src/broker/broker';
import { brokerContract, CONTRACT_RULES } from '../contract/broker-contract';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { pairOpener, PREFIX } from '../helpers/redis-broker-pair';
import { RedisSentinels } from '../helpers/redis-sentinel';
import { askNode } from '../../scripts/harness/redis-server';

describe('redis broker behind Sentinel', { timeout: 120_000 }, () => {
  const sentinels = new RedisSentinels();
  let raw: Redis;

  const pairs = pairOpener(
    () => ({ mode: 'sentinel', nodes: sentinels.nodes, sentinelName: sentinels.name, commandTimeoutMs: 1000 }),
    async (topic, payload) => void (await raw.publish(PREFIX + topic, payload)),
  );
  const open = pairs.open;

  before(async () => {
    await sentinels.start();
    raw = await sentinels.masterClient();
  });

  after(async () => {
    await pairs.closeAll();
    raw?.disconnect();
    await sentinels.stop();
  });

  brokerContract({ name: 'redis sentinel (1 master, 1 replica, 3 sentinels)', open });

  it('follows SENTINEL FAILOVER without a restart: publishes refused or taken meanwhile, subscriptions on the new master, seqs go on', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      const topic = 'hist:sentinel';
      await pair.subscriber.subscribe(topic);
      assert.equal((await pair.publisher.publish(topic, Buffer.from('before'))).seq, 1);
      await waitFor('before', () => pair.received.length === 1);

      // Publish all through the switch: each one is either taken (with a seq) or refused with BrokerUnavailableError.
      const outcomes: string[] = [];
      let switching = true;
      const publishing = (async () => {
        while (switching) {
          try {
            await pair.publisher.publish(topic, Buffer.from('during'));
            outcomes.push('published');
          } catch (err) {
            assert.ok(err instanceof BrokerUnavailableError, (err as Error).message);
            outcomes.push('refused');
          }
          await sleep(20);
        }
      })();
      const { to } = await sentinels.failover();
      await waitFor('both connected to the new master', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected' && pair.states.includes('disconnected'), 15_000);
      switching = false;
      await publishing;
      assert.ok(outcomes.length > 0);

      const clients = await askNode(to, (c) => c.client('LIST') as Promise<string>);
      assert.match(clients, new RegExp(`name=herald-subscriber-${process.pid} `), 'the subscriber is on the new master');
      assert.match(clients, new RegExp(`name=herald-commands-${process.pid} `), 'the publisher is on the new master');

      await pair.subscriber.subscribe(topic); // confirmed again on the new master
      const { seq } = await pair.publisher.publish(topic, Buffer.from('after'));
      await waitFor('after', () => pair.received.some((m) => m.seq === seq && m.payload.toString() === 'after'));
      const page = await pair.subscriber.history(topic, 0, 1000);
      assert.equal(page.entries[0].payload.toString(), 'before', 'history from before the switch was replicated');
      assert.equal(page.current, seq);
      assert.ok(pair.subscriber.reconnects >= 1 && pair.publisher.reconnects >= 1);
    } finally {
      await pair.close();
    }
  });
});
