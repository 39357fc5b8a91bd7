import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { ReconnectingClient } from '../helpers/reconnecting-client';

/** Log lines at warn (40) or above. */
function alarms(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .filter((line) => (JSON.parse(line) as { level: number }).level >= 40);
}

/**
 * A planned stop is not an incident: an operator alerting on warn and error
 * lines must see none from a rolling restart or a SIGTERM, with either broker.
 */
describe('planned stops log no warning', () => {
  const redis = new RedisServer();
  before(() => redis.start());
  after(() => redis.stop());

  for (const broker of ['local', 'redis'] as const) {
    it(`rolling restart then SIGTERM with the ${broker} broker, with clients connected`, async () => {
      const env: Record<string, string> = { HERALD_WORKERS: '2', HERALD_RESTART_DRAIN_WINDOW: '1', HERALD_LOG_LEVEL: 'debug', HERALD_HISTORY: 'news=100/60', HERALD_TARGET_CONNECTIONS: '1000' };
      if (broker === 'redis') Object.assign(env, { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url });
      const herald = await new HeraldProcess({ env }).start();
      const clients = Array.from({ length: 50 }, (_, i) => new ReconnectingClient(`${herald.wsUrl}${i % 2 ? '?topics=news&format=envelope&since=news:0' : ''}`));
      try {
        await Promise.all(clients.map((c) => c.open()));
        await herald.publish('news', 'before');
        herald.child.kill('SIGHUP');
        await waitFor('roll done', () => /rolling restart done/.test(herald.output), 30_000, 100);
        await waitFor('clients back', async () => clients.every((c) => c.isOpen) && (await herald.stats()).connections === 50, 15_000);
        await herald.publish('news', 'after');
      } finally {
        clients.forEach((c) => (c.stopped = true));
        assert.equal(await herald.stop(), 0);
      }
      assert.match(herald.output, /"msg":"herald stopped"/);
      assert.deepEqual(alarms(herald.output), []);
    });
  }
});
