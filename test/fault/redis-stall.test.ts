import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connect, type Client } from '../../scripts/harness/ws-clients';

const TIMEOUT_MS = 500;

describe('a Redis that stops answering (SIGSTOP)', () => {
  let redis: RedisServer;
  let herald: HeraldProcess;
  let client: Client;

  before(async () => {
    redis = await new RedisServer().start();
    herald = await new HeraldProcess({
      env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) },
    }).start();
    client = await connect(herald.wsUrl);
  });
  after(async () => {
    redis?.resume();
    closeAll(client ? [client] : []);
    await herald?.stop();
    await redis?.stop();
  });

  it('answers publishes 503 within the command timeout, reports unhealthy, and recovers', { timeout: 60_000 }, async () => {
    assert.equal((await herald.publish('broadcast', 'before')).status, 202);
    await waitFor('first message', () => client.messages.length === 1);

    redis.pause();
    const started = Date.now();
    const unresponsive = await herald.publish('broadcast', 'sent into the stall');
    assert.equal(unresponsive.status, 503);
    const unresponsiveBody = (await unresponsive.json()) as { error: string };
    // Bounded by the command timeout, not by the stall (which lasts until resume() below); generous for a loaded machine.
    assert.ok(Date.now() - started < TIMEOUT_MS + 8000, `answered after ${Date.now() - started} ms`);

    const health = await waitFor('health 503', async () => {
      const h = await herald.health();
      return h.status === 503 ? h : undefined;
    }, 10_000);
    assert.ok(health.body.reasons.some((r) => /unresponsive/.test(r)), health.body.reasons.join('; '));
    // Once Redis is known not to answer, publishes are refused at once and never sent.
    const refused = await herald.publish('broadcast', 'refused at once');
    assert.equal(refused.status, 503);
    assert.match(((await refused.json()) as { error: string }).error, /unresponsive/);

    redis.resume();
    await waitFor('healthy again', async () => (await herald.health()).status === 200, 10_000);
    assert.equal((await herald.publish('broadcast', 'after')).status, 202);
    await waitFor('message after the stall', () => client.messages.some((m) => m.data.toString() === 'after'));
    await sleep(200);
    const got = client.messages.map((m) => m.data.toString());
    assert.ok(!got.includes('refused at once'));
    // A publish that timed out had already been written to Redis: Redis carries it out when it resumes.
    if (/timed out/.test(unresponsiveBody.error)) assert.ok(got.includes('sent into the stall'), got.join(','));
    assert.equal(client.closeCode, undefined, 'clients stay connected through the stall');
  });
});
