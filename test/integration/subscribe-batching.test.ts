/**
 * The per-user workload against a real herald and a real Redis: every
 * connection on its own `user:<id>` topic. A burst of connects must cost a
 * few SUBSCRIBE commands per worker and event-loop tick, not one per
 * connection (counted in INFO commandstats), and each user must get its own
 * messages only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../helpers/herald-process';
import { waitFor } from '../helpers/ports';
import { RedisServer } from '../helpers/redis-server';
import { closeAll, connectEach } from '../helpers/ws-clients';

const USERS = 2000;

/** Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats. */
export async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

describe('per-user topics under a connect burst', { timeout: 90_000 }, () => {
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

  it(`${USERS} connects with private topics cost a bounded number of SUBSCRIBEs; each user gets exactly its own messages; the closes are coalesced too`, async () => {
    const userChannels = async () => ((await pub.pubsub('CHANNELS', 'herald:user:*')) as string[]).length;
    await pub.config('RESETSTAT');
    const clients = await connectEach((i) => `${herald.wsUrl}?topics=user:${i}`, USERS, 400);
    try {
      await waitFor('every user topic subscribed', async () => (await userChannels()) === USERS, 20_000);
      const subscribes = await commandCalls(pub, 'subscribe');
      const perWorker = (await herald.stats()).perWorker.map((w) => w.connections);
      console.log(`# ${USERS} connects with a private topic on ${perWorker.join(' + ')} connections per worker: ${subscribes} SUBSCRIBE commands`);
      assert.ok(subscribes >= 2 && subscribes <= USERS / 4, `SUBSCRIBE commands for ${USERS} connects: ${subscribes}`);

      for (let i = 0; i < USERS; i++) assert.equal(await pub.publish(`herald:user:${i}`, `for ${i}`), 1, `one worker holds user:${i}`);
      await waitFor('every user its message', () => clients.every((c) => c.messages.length === 1), 20_000);
      clients.forEach((c, i) => assert.equal(c.messages[0].data.toString(), `for ${i}`));

      await pub.config('RESETSTAT');
      closeAll(clients);
      await waitFor('every user topic unsubscribed', async () => (await userChannels()) === 0, 20_000);
      const unsubscribes = await commandCalls(pub, 'unsubscribe');
      console.log(`# ${USERS} closes: ${unsubscribes} UNSUBSCRIBE commands`);
      assert.ok(unsubscribes >= 2 && unsubscribes <= USERS / 4, `UNSUBSCRIBE commands for ${USERS} closes: ${unsubscribes}`);
    } finally {
      closeAll(clients);
    }
  });
});
