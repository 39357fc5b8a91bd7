import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connectMany, type Client } from '../../scripts/harness/ws-clients';

describe('Redis restarted under a stream of publishes', () => {
  let redis: RedisServer;
  let herald: HeraldProcess;
  let clients: Client[] = [];

  before(async () => {
    redis = await new RedisServer().start();
    herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url } }).start();
    clients = await connectMany(herald.wsUrl, 60);
  });
  after(async () => {
    closeAll(clients);
    await herald?.stop();
    await redis?.stop();
  });

  it('clients stay connected; publishes during the outage are refused (503); accepted ones are delivered once, in order', { timeout: 60_000 }, async () => {
    const answers = new Map<string, number>();
    let publishing = true;
    let n = 0;
    const stream = (async () => {
      while (publishing) {
        const message = `m${n++}`;
        answers.set(message, (await herald.publish('broadcast', message)).status);
        await sleep(10);
      }
    })();
    await waitFor('stream flowing', () => clients.every((c) => c.messages.length >= 5));

    const killedAt = n;
    await redis.stop();
    const down = await waitFor('health 503', async () => {
      const h = await herald.health();
      return h.status === 503 ? h : undefined;
    });
    assert.ok(down.body.reasons.some((r) => /broker publisher/.test(r)), down.body.reasons.join('; '));
    await waitFor('publishes refused', () => [...answers.values()].slice(-3).every((s) => s === 503));

    await redis.start();
    await waitFor('healthy again', async () => (await herald.health()).status === 200, 15_000);
    // Right after Redis returns, a worker that has not resubscribed yet misses what is published (documented).
    await sleep(500);
    const settledAt = n;
    await waitFor('publishes accepted again', () => [...answers.values()].slice(-3).every((s) => s === 202));
    await sleep(300);
    publishing = false;
    await stream;

    const accepted = [...answers].filter(([, s]) => s === 202).map(([m]) => m);
    const refused = [...answers].filter(([, s]) => s === 503).map(([m]) => m);
    assert.ok(refused.length > 0 && [...answers.values()].every((s) => s === 202 || s === 503));
    const index = (m: string) => Number(m.slice(1));
    // A publish Redis confirmed before it died had reached the workers' subscriber sockets.
    const mustArrive = accepted.filter((m) => index(m) < killedAt || index(m) >= settledAt);
    await waitFor('every publish accepted before the kill, or once resubscribed, delivered', () =>
      clients.every((c) => mustArrive.every((m) => c.messages.some((r) => r.data.toString() === m))),
    );
    for (const c of clients) {
      const got = c.messages.map((r) => r.data.toString());
      assert.equal(c.closeCode, undefined, 'no client was disconnected');
      assert.equal(new Set(got).size, got.length, 'no duplicate');
      assert.deepEqual(got.map(index), [...got.map(index)].sort((a, b) => a - b), 'in publish order');
      assert.ok(got.every((m) => !refused.includes(m)), 'a refused publish is never delivered');
    }
  });
});
