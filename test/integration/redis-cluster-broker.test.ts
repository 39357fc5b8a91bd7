import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from 'ioredis';
import { BrokerUnavailableError } from '../../src/broker/broker';
import { keySlot } from '../../src/broker/redis/key-slot';
import { seqChannel } from '../../src/broker/redis/redis-names';
import { brokerContract, CONTRACT_RULES } from '../contract/broker-contract';
import { waitFor } from '../../scripts/harness/ports';
import { pairOpener, PREFIX } from '../helpers/redis-broker-pair';
import { RedisCluster } from '../helpers/redis-cluster';
import { askNode, nodeClient } from '../../scripts/harness/redis-server';

describe('redis broker on a cluster (sharded pub/sub)', { timeout: 120_000 }, () => {
  const cluster = new RedisCluster();
  let raw: Cluster;

  const pairs = pairOpener(
    () => ({ mode: 'cluster', nodes: cluster.seeds, commandTimeoutMs: 1000 }),
    async (topic, payload) => void (await raw.spublish(PREFIX + topic, payload)),
  );
  const open = pairs.open;

  before(async () => {
    await cluster.start();
    raw = cluster.client();
  });

  after(async () => {
    await pairs.closeAll();
    raw?.disconnect();
    await cluster.stop();
  });

  brokerContract({ name: 'redis cluster (3 masters, 3 replicas)', open });

  it('SPUBLISH on the owning shard (master or replica) reaches the subscriber; other nodes answer MOVED, which cluster clients follow', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      const channel = PREFIX + 'plain:anynode';
      await pair.subscriber.subscribe('plain:anynode');
      const owner = await cluster.masterOf(channel);
      const accepted: number[] = [];
      for (const port of cluster.livePorts()) {
        const client = nodeClient(port);
        try {
          const replication = await client.info('replication');
          const inShard = port === owner || replication.includes(`master_port:${owner}\r`);
          if (inShard) {
            await client.spublish(channel, `via ${port}`);
            accepted.push(port);
          } else {
            await assert.rejects(client.spublish(channel, 'x'), new RegExp(`MOVED ${keySlot(channel)} 127\\.0\\.0\\.1:${owner}`));
          }
        } finally {
          client.disconnect();
        }
      }
      assert.equal(accepted.length, 2, 'the master and its replica');
      await raw.spublish(channel, 'via cluster client');
      await waitFor('all three', () => pair.received.length === 3);
      assert.deepEqual(pair.received.map((m) => m.payload.toString()).sort(), [...accepted.map((p) => `via ${p}`), 'via cluster client'].sort());
    } finally {
      await pair.close();
    }
  });

  it('loads the function on every master; FCALL sequences from any client; a topic without a rule is refused', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      await waitFor('function on every master', async () => {
        for (const port of await cluster.masterPorts()) {
          const client = nodeClient(port);
          const libraries = (await client.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'herald').finally(() => client.disconnect())) as unknown[];
          if (libraries.length !== 1) return false;
        }
        return true;
      });
      await pair.subscriber.subscribe('hist:fcall');
      assert.equal(await raw.call('FCALL', 'herald_publish', '1', 'hist:fcall', 'hello'), 1);
      assert.deepEqual(await pair.publisher.publish('hist:fcall', Buffer.from('again')), { seq: 2 });
      await assert.rejects(raw.call('FCALL', 'herald_publish', '1', 'plain:fcall', 'x'), /ERR herald: topic plain:fcall has no history rule: publish it with SPUBLISH herald:plain:fcall/);
      await waitFor('both', () => pair.received.length === 2);
      assert.deepEqual(pair.received.map((m) => [m.seq, m.payload.toString()]), [[1, 'hello'], [2, 'again']]);
      const page = await pair.subscriber.history('hist:fcall', 0, 10);
      assert.deepEqual([page.first, page.current, page.entries.map((e) => e.payload.toString())], [1, 2, ['hello', 'again']]);
      // A master that lost the library (restarted empty, FUNCTION FLUSH): the publish loads it again and goes through.
      const owner = await cluster.masterOf('hist:fcall');
      await askNode(owner, (c) => c.call('FUNCTION', 'FLUSH'));
      assert.deepEqual(await pair.publisher.publish('hist:fcall', Buffer.from('reloaded')), { seq: 3 });
    } finally {
      await pair.close();
    }
  });

  it('sends the subscribes of one tick as one SSUBSCRIBE per slot', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      const topics = Array.from({ length: 3000 }, (_, i) => `plain:batch:${i}`);
      await Promise.all(topics.map((t) => pair.subscriber.subscribe(t)));
      const slots = new Set(topics.map((t) => keySlot(PREFIX + t)));
      assert.ok(slots.size < topics.length, 'some topics share a slot');
      assert.equal(pair.subscriber.subscribeCommands, slots.size);
      const last = PREFIX + topics[2999];
      const owner = nodeClient(await cluster.masterOf(last));
      const [, count] = (await owner.call('PUBSUB', 'SHARDNUMSUB', last).finally(() => owner.disconnect())) as [string, number];
      assert.equal(count, 1);
    } finally {
      await pair.close();
    }
  });

  it('follows a slot moved to another master (resharding): the subscription moves, history and seqs move with the keys', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      const topic = 'hist:reshard';
      await pair.subscriber.subscribe(topic);
      assert.equal((await pair.publisher.publish(topic, Buffer.from('before'))).seq, 1);
      await waitFor('before', () => pair.received.length === 1);
      const slot = keySlot(seqChannel(PREFIX, topic));
      const from = await cluster.masterOf(seqChannel(PREFIX, topic));
      const to = (await cluster.masterPorts()).find((p) => p !== from)!;
      await cluster.moveSlot(slot, to);
      // The old master drops the subscription with the slot; herald reads the slot map and subscribes on the new one.
      await waitFor('the subscription on the new master', async () => {
        const [, count] = (await askNode(to, (c) => c.call('PUBSUB', 'SHARDNUMSUB', seqChannel(PREFIX, topic)))) as [string, number];
        return count === 1;
      });
      await pair.subscriber.subscribe(topic);
      assert.equal((await pair.publisher.publish(topic, Buffer.from('after'))).seq, 2);
      await waitFor('after', () => pair.received.some((m) => m.seq === 2 && m.payload.toString() === 'after'));
      const page = await pair.subscriber.history(topic, 0, 10);
      assert.deepEqual(page.entries.map((e) => e.payload.toString()), ['before', 'after']);
    } finally {
      await pair.close();
    }
  });

  it('follows a master killed and its replica promoted: publishes refused meanwhile, subscriptions moved, seqs go on', { timeout: 30_000 }, async () => {
    const pair = await open(CONTRACT_RULES);
    try {
      const topic = 'hist:failover';
      await pair.subscriber.subscribe(topic);
      await pair.subscriber.subscribe('plain:elsewhere');
      assert.equal((await pair.publisher.publish(topic, Buffer.from('before'))).seq, 1);
      await waitFor('before', () => pair.received.length === 1);
      const victim = await cluster.masterOf(seqChannel(PREFIX, topic));
      await cluster.kill(victim);
      // While the slot's master is down, every publish answers: refused (BrokerUnavailableError), or taken by the
      // promoted replica. None hangs or fails otherwise.
      const outcomes: string[] = [];
      await waitFor('the replica to take the slot', async () => {
        try {
          await pair.publisher.publish(topic, Buffer.from('during'));
          outcomes.push('published');
          return true;
        } catch (err) {
          assert.ok(err instanceof BrokerUnavailableError, `${(err as Error).message}`);
          outcomes.push('refused');
          return false;
        }
      }, 20_000, 100);
      assert.ok(outcomes.includes('refused'), 'publishes were refused during the switch');
      assert.ok(pair.states.includes('disconnected'), `subscriber states ${pair.states.join(',')}`);
      // Resolves once the subscription is confirmed again, on the promoted replica.
      await pair.subscriber.subscribe(topic);
      await waitFor('subscriber connected', () => pair.subscriber.state === 'connected', 10_000);
      const after = await pair.publisher.publish(topic, Buffer.from('after'));
      assert.ok(after.seq! >= 2, `seq ${after.seq} goes on from the replicated counter`);
      await waitFor('after', () => pair.received.some((m) => m.payload.toString() === 'after' && m.seq === after.seq));
      await pair.publisher.publish('plain:elsewhere', Buffer.from('other master'));
      await waitFor('other topic', () => pair.received.some((m) => m.topic === 'plain:elsewhere'));
      assert.ok(pair.subscriber.reconnects >= 1);
    } finally {
      await pair.close();
    }
  });

  it('notices a frozen master: unresponsive within the timeout, its slots refused, the others served, back when it thaws', { timeout: 60_000 }, async () => {
    // A cluster of its own with a node timeout long enough that the frozen master is not failed over meanwhile.
    const slow = await new RedisCluster(3, 10_000).start();
    const slowPairs = pairOpener(() => ({ mode: 'cluster', nodes: slow.seeds, commandTimeoutMs: 1000 }));
    try {
      const pair = await slowPairs.open(CONTRACT_RULES);
      await pair.subscriber.subscribe('plain:frozen');
      await pair.subscriber.subscribe('plain:thawed');
      await waitFor('connected', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected', 15_000);
      const frozen = await slow.masterOf(PREFIX + 'plain:frozen');
      let other = 'plain:thawed';
      for (let i = 0; (await slow.masterOf(PREFIX + other)) === frozen; i++) other = `plain:thawed:${i}`;
      slow.pause(frozen);
      try {
        await waitFor('unresponsive', () => pair.publisher.state === 'unresponsive' && pair.subscriber.state === 'unresponsive', 5000);
        await assert.rejects(pair.publisher.publish('plain:frozen', Buffer.from('x')), /is unresponsive: no answer in time/);
        assert.deepEqual(await pair.publisher.publish(other, Buffer.from('y')), {}, 'the other masters still take publishes');
      } finally {
        slow.resume(frozen);
      }
      await waitFor('connected again', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected', 5000);
    } finally {
      await slowPairs.closeAll();
      await slow.stop();
    }
  });
});
