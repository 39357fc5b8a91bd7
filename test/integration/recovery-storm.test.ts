import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { frames, range, seqsOf } from '../helpers/envelope-client';
import { waitFor } from '../../scripts/harness/ports';
import { commandCalls, fcallPublish, RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connectMany } from '../../scripts/harness/ws-clients';

describe('reconnect storm', () => {
  const redis = new RedisServer();
  let herald: HeraldProcess;
  let pub: Redis;

  before(async () => {
    await redis.start();
    // maxAgeSeconds 0: the publish script then makes no XRANGE of its own, so every XRANGE counted is a recovery read.
    herald = await new HeraldProcess({
      env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_HISTORY: 'storm=10000/0', HERALD_HISTORY_READ_CACHE_MS: '5000' },
    }).start();
    pub = redis.client();
  });

  after(async () => {
    pub?.disconnect();
    await herald?.stop();
    await redis.stop();
  });

  it('1,000 clients recovering the same range cost a bounded number of Redis reads', async () => {
    for (let i = 0; i < 150; i++) await fcallPublish(pub, 'storm', Buffer.from(`s${i}`));
    await pub.config('RESETSTAT');
    const clients = await connectMany(`${herald.wsUrl}?format=envelope&topics=storm&since=storm:50`, 1000);
    try {
      await waitFor('all recovered', () => clients.every((c) => frames(c).some((f) => f.type === 'recovered')), 30_000);
      for (const c of clients) assert.deepEqual(seqsOf(c, 'storm'), range(51, 150));
      const reads = await commandCalls(pub, 'xrange');
      const perWorker = (await herald.stats()).perWorker.map((w) => w.connections);
      assert.ok(perWorker.every((n) => n > 0), `both workers hold clients: ${perWorker}`);
      // One read per worker per cache period; the storm lasts about one period.
      console.log(`# storm: ${reads} XRANGE calls for 1000 clients, per-worker connections ${perWorker}`);
      assert.ok(reads >= 1 && reads <= 8, `XRANGE calls for 1000 recovering clients: ${reads}`);
    } finally {
      closeAll(clients);
    }
  });
});
