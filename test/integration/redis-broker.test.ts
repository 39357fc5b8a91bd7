import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { BrokerUnavailableError } from '../../src/broker/broker';
import type { HistoryRule } from '../../src/broker/history-rules';
import { brokerContract, CONTRACT_RULES } from '../contract/broker-contract';
import { waitFor } from '../../scripts/harness/ports';
import { PREFIX, redisBrokerPair } from '../helpers/redis-broker-pair';
import { RedisServer } from '../../scripts/harness/redis-server';

const redisPair = (url: string, rules: HistoryRule[], raw: Redis) =>
  redisBrokerPair({ url, commandTimeoutMs: 1000 }, rules, async (topic, payload) => void (await raw.publish(PREFIX + topic, payload)));

/** A publishing and a receiving broker on one Redis; resolves once both are connected. */
async function connectedPair(url: string, rules: HistoryRule[], raw: Redis) {
  const pair = redisPair(url, rules, raw);
  await pair.subscriber.subscribe('hist:warm-up');
  await waitFor('both connected', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected');
  return pair;
}

describe('redis broker', () => {
  const server = new RedisServer();
  let raw: Redis;

  before(async () => {
    await server.start();
    raw = server.client();
  });

  after(async () => {
    raw?.disconnect();
    await server.stop();
  });

  brokerContract({
    name: 'redis (standalone)',
    open: (rules) => connectedPair(server.url, rules, raw),
  });

  it('FCALL herald_publish from any client sequences, stores and publishes; topics without a rule go out plain', async () => {
    const pair = await connectedPair(server.url, CONTRACT_RULES, raw);
    try {
      await waitFor('function loaded', async () => ((await raw.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'herald')) as unknown[]).length === 1);
      await pair.subscriber.subscribe('hist:fcall');
      await pair.subscriber.subscribe('plain:fcall');
      const seq = await raw.call('FCALL', 'herald_publish', '1', 'hist:fcall', 'hello');
      assert.equal(seq, 1);
      assert.equal(await raw.call('FCALL', 'herald_publish', '1', 'plain:fcall', 'hi'), null);
      await assert.rejects(raw.call('FCALL', 'herald_publish', '1', 'bad topic', 'x'), /topic must be 1 to 128/);
      await waitFor('both', () => pair.received.length === 2);
      assert.deepEqual(pair.received.map((m) => [m.topic, m.seq, m.payload.toString()]), [['hist:fcall', 1, 'hello'], ['plain:fcall', undefined, 'hi']]);
      assert.equal((await pair.subscriber.history('hist:fcall', 0, 10)).entries[0].payload.toString(), 'hello');
    } finally {
      await pair.close();
    }
  });

  it('coalesces the subscribes of one tick into a few commands', async () => {
    const pair = await connectedPair(server.url, CONTRACT_RULES, raw);
    try {
      const sub = pair.subscriber;
      const before = sub.subscribeCommands;
      await Promise.all(Array.from({ length: 3000 }, (_, i) => sub.subscribe(`plain:batch:${i}`)));
      const sent = sub.subscribeCommands - before;
      assert.ok(sent <= 3, `${sent} SUBSCRIBE commands for 3000 topics`);
      const [, count] = (await raw.pubsub('NUMSUB', 'herald:plain:batch:2999')) as [string, number];
      assert.equal(count, 1);
    } finally {
      await pair.close();
    }
  });

  it('follows a Redis restart: resubscribes, reloads the function, seqs start again', async () => {
    const pair = await connectedPair(server.url, CONTRACT_RULES, raw);
    try {
      await pair.subscriber.subscribe('hist:restart');
      assert.equal((await pair.publisher.publish('hist:restart', Buffer.from('before'))).seq, 1);
      await waitFor('before', () => pair.received.length === 1);
      await server.stop();
      await waitFor('subscriber disconnected', () => pair.states.includes('disconnected'));
      await assert.rejects(pair.publisher.publish('hist:restart', Buffer.from('down')), BrokerUnavailableError);
      await server.start();
      await waitFor('both connected', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected', 15_000);
      // Connected is not yet subscribed: wait until the new Redis confirmed the topic again.
      await pair.subscriber.subscribe('hist:restart');
      // A fresh Redis has no function and no counters: the publish reloads the function, seqs restart at 1.
      await waitFor('publish after restart', async () => (await pair.publisher.publish('hist:restart', Buffer.from('after'))).seq === 1, 10_000, 200);
      await waitFor('after', () => pair.received.some((m) => m.payload.toString() === 'after'));
    } finally {
      await pair.close();
    }
  });

  it('notices a frozen Redis: unresponsive within the timeout, publishes refused, back when it thaws', async () => {
    const pair = await connectedPair(server.url, CONTRACT_RULES, raw);
    try {
      await pair.subscriber.subscribe('plain:stall');
      await waitFor('connected', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected');
      server.pause();
      try {
        const started = Date.now();
        await assert.rejects(pair.publisher.publish('plain:stall', Buffer.from('x')), (err: BrokerUnavailableError) => err instanceof BrokerUnavailableError);
        assert.ok(Date.now() - started < 3000, 'publish answered within a bounded time');
        await waitFor('unresponsive', () => pair.publisher.state === 'unresponsive' && pair.subscriber.state === 'unresponsive', 5000);
      } finally {
        server.resume();
      }
      await waitFor('connected again', () => pair.publisher.state === 'connected' && pair.subscriber.state === 'connected', 5000);
    } finally {
      await pair.close();
    }
  });
});
