/**
 * herald/client (the package build, as a dependent project loads it) in Node
 * against a real herald, through a worker killed, Redis restarted and a
 * rolling restart: the application sees every message of topics with history
 * exactly once, in order, and no gap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { makeTestKeys, type TestKeys } from '../helpers/tokens';

// The CommonJS build that package.json exports as herald/client (types from the same source).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HeraldClient } = require('../../pkg/cjs/client/index.js') as typeof import('../../src/client/index');
type Client = InstanceType<typeof HeraldClient>;

const API_KEY = 'client-test-key';

/** One application: a client, and what its listeners saw. */
class App {
  readonly client: Client;
  readonly seqs = new Map<string, number[]>();
  readonly gaps: unknown[] = [];
  readonly codes: number[] = [];

  constructor(herald: HeraldProcess, keys: TestKeys, user: string) {
    this.client = new HeraldClient({
      url: herald.wsUrl,
      token: () => keys.hs256({ sub: user }),
      WebSocket: WebSocket as never,
      minDelayMs: 100,
      maxDelayMs: 1000,
    });
    const record = (topic: string, seq?: number) => {
      if (seq === undefined) return;
      const list = this.seqs.get(topic) ?? [];
      list.push(seq);
      this.seqs.set(topic, list);
    };
    this.client.subscribe('feed').on('message', (m) => record('feed', m.seq));
    this.client.on('message', (m) => m.topic === 'broadcast' && record('broadcast', m.seq));
    this.client.on('gap', (g) => this.gaps.push(g));
    this.client.on('disconnected', ({ code }) => this.codes.push(code));
  }

  count(topic: string): number {
    return this.seqs.get(topic)?.length ?? 0;
  }
}

function scenario(broker: 'local' | 'redis'): void {
  it(`${broker} broker: a worker killed${broker === 'redis' ? ', Redis restarted' : ''} and a rolling restart lose and repeat nothing`, async () => {
    const keys = await makeTestKeys();
    const redis = new RedisServer([], 0, undefined, { persistent: true });
    const env: Record<string, string> = {
      HERALD_AUTH: 'true',
      HERALD_AUTH_HMAC_SECRET: keys.secret,
      HERALD_API_KEY: API_KEY,
      HERALD_HISTORY: 'feed=100000/600,broadcast=100000/600',
      HERALD_RESTART_DRAIN_WINDOW: '1',
    };
    if (broker === 'redis') {
      await redis.start();
      Object.assign(env, { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url });
    }
    const herald = await new HeraldProcess({ env }).start();
    const apps = Array.from({ length: 40 }, (_, i) => new App(herald, keys, `u${i}`));
    try {
      for (const app of apps) app.client.connect();
      await waitFor('all subscribed', () => apps.every((a) => a.client.subscription('feed')?.state === 'subscribed'), 15_000);
      await waitFor('apps on both workers', async () => (await herald.stats()).perWorker.every((w) => w.connections > 0));
      let last = { feed: 0, broadcast: 0 };
      const total = 900;
      for (let i = 1; i <= total; i++) {
        last = { feed: await herald.publishSeq('feed', `f${i}`, API_KEY), broadcast: await herald.publishSeq('broadcast', `b${i}`, API_KEY) };
        if (i === 200) process.kill((await herald.stats()).perWorker[0].pid, 'SIGKILL');
        if (i === 450 && broker === 'redis') {
          await redis.stop();
          await sleep(300);
          await redis.start();
        }
        if (i === 650) herald.child.kill('SIGHUP');
        if (i % 25 === 0) await sleep(10);
      }
      await waitFor('roll done', () => /rolling restart done/.test(herald.output), 30_000);
      await waitFor('every app has every message', () => apps.every((a) => a.count('feed') >= last.feed && a.count('broadcast') >= last.broadcast), 45_000).catch((err: Error) => {
        const short = apps.find((a) => a.count('feed') < last.feed || a.count('broadcast') < last.broadcast)!;
        throw new Error(`${err.message}: e.g. feed ${short.count('feed')}/${last.feed}, broadcast ${short.count('broadcast')}/${last.broadcast}, codes ${short.codes}`);
      });
      const expected = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
      for (const app of apps) {
        assert.deepEqual(app.seqs.get('feed'), expected(last.feed));
        assert.deepEqual(app.seqs.get('broadcast'), expected(last.broadcast));
        assert.deepEqual(app.gaps, []);
      }
      const codes = new Set(apps.flatMap((a) => a.codes));
      assert.ok(codes.has(4000), `rolling restart seen (codes ${[...codes]})`);
      assert.ok(apps.some((a) => a.codes.includes(1006)), 'some apps lost their worker');
    } finally {
      for (const app of apps) app.client.close();
      await herald.stop();
      await redis.destroy();
      keys.cleanup();
    }
  });
}

describe('herald/client in Node against herald', () => {
  scenario('redis');
  scenario('local');
});
