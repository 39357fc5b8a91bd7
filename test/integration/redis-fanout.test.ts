import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { commandCalls, RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connect, connectEach, connectMany, type Client } from '../../scripts/harness/ws-clients';

describe('fan-out through Redis', () => {
  const redis = new RedisServer();
  let herald: HeraldProcess;
  let pub: Redis;

  before(async () => {
    await redis.start();
    herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url } }).start();
    pub = redis.client();
  });

  after(async () => {
    pub?.disconnect();
    await herald?.stop();
    await redis.stop();
  });

  it('delivers one PUBLISH to every one of 3000 clients spread over 2 workers', async () => {
    const clients = await connectMany(herald.wsUrl, 3000);
    try {
      const stats = await waitFor('all connections counted', async () => {
        const s = await herald.stats();
        return s.connections === 3000 ? s : undefined;
      });
      const perWorker = stats.perWorker.map((w) => w.connections);
      assert.equal(perWorker.length, 2);
      assert.ok(perWorker.every((n) => n > 0), `both workers hold clients: ${perWorker}`);

      const receivers = await pub.publish('herald:broadcast', 'hello all');
      assert.equal(receivers, 2, 'each worker holds one Redis subscription');
      await waitFor('every client got the broadcast', () => clients.every((c) => c.messages.length === 1), 10_000);
      for (const c of clients) {
        assert.equal(c.messages[0].data.toString(), 'hello all');
        assert.equal(c.messages[0].isBinary, false);
      }
      const after = await herald.stats();
      assert.equal(after.messagesDelivered, 3000);
    } finally {
      closeAll(clients);
    }
  });

  it('keeps topics apart', async () => {
    const a = await connect(`${herald.wsUrl}?topics=room:a`);
    const b = await connect(`${herald.wsUrl}?topics=room:b,news.sport`);
    const plain = await connect(herald.wsUrl);
    try {
      // Subscriptions to new topics reach Redis asynchronously after the upgrade.
      // NUMSUB counts Redis connections (one per worker), not clients.
      await waitFor('topic subscriptions in Redis', async () => {
        const counts = (await pub.pubsub('NUMSUB', 'herald:room:a', 'herald:room:b', 'herald:news.sport')) as (string | number)[];
        return counts[1] === 1 && counts[3] === 1 && counts[5] === 1;
      });
      await pub.publish('herald:room:a', 'for a');
      await pub.publish('herald:news.sport', 'for b');
      await pub.publish('herald:broadcast', 'for all');
      await waitFor('deliveries', () => a.messages.length === 2 && b.messages.length === 2 && plain.messages.length === 1);
      assert.deepEqual(a.messages.map((m) => m.data.toString()), ['for a', 'for all']);
      assert.deepEqual(b.messages.map((m) => m.data.toString()), ['for b', 'for all']);
      assert.deepEqual(plain.messages.map((m) => m.data.toString()), ['for all']);
    } finally {
      closeAll([a, b, plain]);
    }
  });

  it('drops the Redis subscription of a topic when its last client leaves', async () => {
    const c = await connect(`${herald.wsUrl}?topics=ephemeral`);
    await waitFor('subscribed', async () => (await pub.pubsub('NUMSUB', 'herald:ephemeral'))[1] === 1);
    c.ws.close();
    await waitFor('unsubscribed', async () => (await pub.pubsub('NUMSUB', 'herald:ephemeral'))[1] === 0);
  });

  it('delivers binary and UTF-8 payloads byte for byte', async () => {
    const c = await connect(herald.wsUrl);
    try {
      const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x00, 0xc3]);
      const text = 'héllo wörld ✓ 🚀';
      await pub.publish('herald:broadcast', binary);
      await pub.publish('herald:broadcast', Buffer.from(text, 'utf8'));
      await pub.publish('herald:broadcast', Buffer.alloc(0));
      await waitFor('three messages', () => c.messages.length === 3);
      assert.equal(c.messages[0].isBinary, true);
      assert.deepEqual(c.messages[0].data, binary);
      assert.equal(c.messages[1].isBinary, false);
      assert.equal(c.messages[1].data.toString('utf8'), text);
      assert.equal(c.messages[2].data.length, 0);
    } finally {
      closeAll([c]);
    }
  });

  it('survives Redis going away and delivers again when it returns, without a restart', async () => {
    const clients: Client[] = await connectMany(herald.wsUrl, 20);
    try {
      await redis.stop();
      await waitFor('health reports the outage', async () => {
        const h = await herald.health();
        return h.status === 503 && h.body.reasons.some((r) => r.includes('broker'));
      });
      const refused = await herald.publish('broadcast', 'while down');
      assert.equal(refused.status, 503, 'admin publish fails loudly while Redis is down');
      assert.ok(clients.every((c) => c.closeCode === undefined), 'connections stay open');

      await redis.start();
      await waitFor('healthy again', async () => (await herald.health()).status === 200, 15_000);
      pub.disconnect();
      pub = redis.client();
      await waitFor('delivered after the outage', async () => {
        await pub.publish('herald:broadcast', 'back');
        return clients.every((c) => c.messages.some((m) => m.data.toString() === 'back'));
      }, 10_000, 300);
      assert.equal(clients.filter((c) => c.messages.some((m) => m.data.toString() === 'while down')).length, 0);
    } finally {
      closeAll(clients);
    }
  });

  // The per-user workload: a burst of connects costs a few SUBSCRIBEs per worker and event-loop tick, not one per connection.
  it(`2,000 connects with private topics cost a bounded number of SUBSCRIBEs; each user gets exactly its own messages; the closes are coalesced too`, async () => {
    const users = 2000;
    const userChannels = async () => ((await pub.pubsub('CHANNELS', 'herald:user:*')) as string[]).length;
    await pub.config('RESETSTAT');
    const clients = await connectEach((i) => `${herald.wsUrl}?topics=user:${i}`, users, 400);
    try {
      await waitFor('every user topic subscribed', async () => (await userChannels()) === users, 20_000);
      const subscribes = await commandCalls(pub, 'subscribe');
      const perWorker = (await herald.stats()).perWorker.map((w) => w.connections);
      console.log(`# ${users} connects with a private topic on ${perWorker.join(' + ')} connections per worker: ${subscribes} SUBSCRIBE commands`);
      assert.ok(subscribes >= 2 && subscribes <= users / 4, `SUBSCRIBE commands for 2,000 connects: ${subscribes}`);

      for (let i = 0; i < users; i++) assert.equal(await pub.publish(`herald:user:${i}`, `for ${i}`), 1, `one worker holds user:${i}`);
      await waitFor('every user its message', () => clients.every((c) => c.messages.length === 1), 20_000);
      clients.forEach((c, i) => assert.equal(c.messages[0].data.toString(), `for ${i}`));

      await pub.config('RESETSTAT');
      closeAll(clients);
      await waitFor('every user topic unsubscribed', async () => (await userChannels()) === 0, 20_000);
      const unsubscribes = await commandCalls(pub, 'unsubscribe');
      console.log(`# ${users} closes: ${unsubscribes} UNSUBSCRIBE commands`);
      assert.ok(unsubscribes >= 2 && unsubscribes <= users / 4, `UNSUBSCRIBE commands for 2,000 closes: ${unsubscribes}`);
    } finally {
      closeAll(clients);
    }
  });
});
