import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { freePort, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connectMany } from '../../scripts/harness/ws-clients';

describe('Redis unreachable at start', () => {
  it('starts anyway, reports the outage, and delivers once Redis appears', async () => {
    const redis = new RedisServer();
    redis.port = await freePort(); // nothing listens there yet
    const herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url }, waitHealthy: false }).start();
    try {
      const health = await waitFor('workers up, broker down', async () => {
        const h = await herald.health().catch(() => undefined);
        return h && h.status === 503 && h.body.reasons.every((r) => r.includes('broker')) ? h : undefined;
      });
      assert.ok(health.body.reasons.length > 0);
      const clients = await connectMany(herald.wsUrl, 50);
      assert.equal((await herald.publish('broadcast', 'x')).status, 503);

      await redis.start();
      await waitFor('healthy once Redis is there', async () => (await herald.health()).status === 200, 15_000);
      const pub = redis.client();
      await pub.publish('herald:broadcast', 'finally');
      await waitFor('delivered', () => clients.every((c) => c.messages.length === 1));
      pub.disconnect();
      closeAll(clients);
      assert.doesNotMatch(herald.output, /worker died/);
    } finally {
      await herald.stop();
      await redis.stop();
    }
  });
});
