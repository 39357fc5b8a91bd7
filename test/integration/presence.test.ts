/**
 * Presence counts and admin control across workers and across heralds that
 * share Redis: totals, the push to envelope subscribers, a worker killed, a
 * herald killed (its counts expire with its heartbeat), Redis restarted (the
 * counts are written again).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommandClient } from '../helpers/command-client';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { makeTestKeys, type TestKeys } from '../helpers/tokens';
import { connect, type Client } from '../../scripts/harness/ws-clients';

const API_KEY = 'presence-key';

async function presence(herald: HeraldProcess, topic: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${herald.adminUrl}/presence?topic=${topic}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits until GET /presence answers exactly `expected`. */
async function presenceIs(herald: HeraldProcess, topic: string, expected: { connections: number; users: number }, timeoutMs = 15_000): Promise<void> {
  let last: unknown;
  await waitFor(`presence of ${topic} = ${JSON.stringify(expected)}`, async () => {
    last = (await presence(herald, topic)).body;
    return JSON.stringify(last) === JSON.stringify({ topic, ...expected });
  }, timeoutMs, 50).catch((err: Error) => {
    throw new Error(`${err.message}; last answer ${JSON.stringify(last)}`);
  });
}

const env = (secret: string): Record<string, string> => ({
  HERALD_AUTH: 'true',
  HERALD_AUTH_HMAC_SECRET: secret,
  HERALD_API_KEY: API_KEY,
  HERALD_PRESENCE_TOPICS: 'room:*',
  HERALD_PRESENCE_PUSH: 'true',
  HERALD_PRESENCE_FLUSH_MS: '100',
  HERALD_PRESENCE_INSTANCE_TTL: '3',
});

describe('presence on one herald (local broker)', () => {
  let keys: TestKeys;
  let herald: HeraldProcess;
  const clients: Client[] = [];

  before(async () => {
    keys = await makeTestKeys();
    herald = await new HeraldProcess({ env: env(keys.secret) }).start();
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await herald?.stop();
    keys?.cleanup();
  });

  it('counts connections and distinct users across workers, pushes them, and forgets a killed worker', async () => {
    const raw = async (sub: string) => {
      const c = await connect(`${herald.wsUrl}?topics=room:1&token=${await keys.hs256({ sub })}`);
      clients.push(c);
      return c;
    };
    await waitFor('clients on both workers', async () => {
      await raw(`u${clients.length % 3}`);
      return (await herald.stats()).perWorker.every((w) => w.connections > 0);
    }, 10_000, 1);
    const watcher = await CommandClient.open(herald.wsUrl, { token: await keys.hs256({ sub: 'watcher' }) });
    clients.push(watcher.client);
    assert.equal((await watcher.command({ op: 'subscribe', topic: 'room:1' })).ok, true);
    const total = clients.length;
    await presenceIs(herald, 'room:1', { connections: total, users: Math.min(3, total - 1) + 1 });
    await watcher.frame('pushed counts', (f) => f.type === 'presence' && f.connections === total);

    assert.equal((await presence(herald, 'lobby')).status, 404);
    assert.equal((await presence(herald, 'bad topic')).status, 400);
    assert.equal((await fetch(`${herald.adminUrl}/presence?topic=room:1`)).status, 401);

    const victim = (await herald.stats()).perWorker[0].pid;
    process.kill(victim, 'SIGKILL');
    await waitFor('the dead worker\'s clients see the drop', () => clients.some((c) => c.closeCode !== undefined));
    await waitFor('all drops seen', async () => (await herald.stats()).perWorker.some((w) => w.pid !== victim && w.up));
    const alive = () => clients.filter((c) => c.closeCode === undefined).length;
    await waitFor('presence follows', async () => (await presence(herald, 'room:1')).body.connections === alive());
  });
});

describe('presence and admin control across two heralds sharing Redis', () => {
  const redis = new RedisServer();
  let keys: TestKeys;
  let a: HeraldProcess;
  let b: HeraldProcess;
  const clients: CommandClient[] = [];

  before(async () => {
    keys = await makeTestKeys();
    await redis.start();
    const shared = { ...env(keys.secret), HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_WORKERS: '1' };
    [a, b] = await Promise.all([new HeraldProcess({ env: shared }).start(), new HeraldProcess({ env: shared }).start()]);
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis.stop();
    keys?.cleanup();
  });

  const join = async (herald: HeraldProcess, sub: string, topic = 'room:1') => {
    const c = await CommandClient.open(herald.wsUrl, { token: await keys.hs256({ sub }) });
    clients.push(c);
    assert.equal((await c.command({ op: 'subscribe', topic })).ok, true);
    return c;
  };

  it('totals cover both heralds; control sent to one reaches the other', async () => {
    await join(a, 'ann');
    const bobA = await join(a, 'bob');
    const annB = await join(b, 'ann');
    const catB = await join(b, 'cat');
    await presenceIs(a, 'room:1', { connections: 4, users: 3 });
    await presenceIs(b, 'room:1', { connections: 4, users: 3 });
    await bobA.frame('pushed totals', (f) => f.type === 'presence' && f.connections === 4 && f.users === 3);

    const admin = (herald: HeraldProcess, path: string) => fetch(`${herald.adminUrl}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } });
    assert.equal((await admin(a, '/subscribe?user=cat&topic=room:2')).status, 202);
    await catB.frame('subscribed through the other herald', (f) => f.type === 'subscribed' && f.topic === 'room:2');
    await presenceIs(a, 'room:2', { connections: 1, users: 1 });
    assert.equal((await admin(a, '/disconnect?user=ann')).status, 202);
    assert.equal(await annB.closed(), 4502);
    await presenceIs(a, 'room:1', { connections: 2, users: 2 });
  });

  it('counts are written again after Redis restarts empty', async () => {
    await redis.stop();
    await redis.start();
    await presenceIs(b, 'room:1', { connections: 2, users: 2 }, 20_000);
  });

  it('a killed herald stops counting once its heartbeat expires', async () => {
    await b.stop('SIGKILL');
    await presenceIs(a, 'room:1', { connections: 1, users: 1 }, 20_000);
    await presenceIs(a, 'room:2', { connections: 0, users: 0 });
  });
});
