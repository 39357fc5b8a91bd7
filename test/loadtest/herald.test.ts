// The load client against the real herald (dist/workers/primary.js, 2 gateway workers,
// Redis broker): two client processes, broadcasts published through Redis by the run.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { nowUs } from '../../scripts/loadtest/client-stats';
import { LoadTest } from '../../scripts/loadtest/coordinator';
import { DEFAULTS, expandSourceIps } from '../../scripts/loadtest/options';
import type { LoadResult } from '../../scripts/loadtest/result';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'loadtest.js');

test('against herald: 2 client processes, 3 broadcasts through Redis, none lost', async () => {
  const redis = await new RedisServer().start();
  const herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_LOG_LEVEL: 'warn' } }).start();
  const dir = mkdtempSync(path.join(tmpdir(), 'loadtest-'));
  try {
    const out = path.join(dir, 'r.json');
    const code = await new Promise<number>((resolve) => execFile(process.execPath, [CLI, '-c', '600', '--per-process', '300',
      '--source-ips', '127.0.0.2-127.0.0.3', '--publish-via', redis.url, '--publish-count', '3', '--publish-interval', '0.3',
      '--settle', '1', '--quiet', '--out', out, herald.wsUrl], { timeout: 40_000 },
    (err) => resolve(err ? Number(err.code ?? -1) : 0)));
    assert.equal(code, 0);
    const r: LoadResult = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(r.processes, 2);
    assert.equal(r.connections.connected, 600);
    assert.equal(r.messages.received, 1800);
    assert.equal(r.messages.lost, 0);
    assert.equal(r.messages.duplicates, 0);
    assert.deepEqual(r.broadcasts.map((b) => b.received), [600, 600, 600]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await herald.stop();
    await redis.stop();
  }
});

test('against herald: each connection on its own topic (--topic-template user:{i}), own messages counted, another\'s as misdelivered, windows reset', async () => {
  const redis = await new RedisServer().start();
  const herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_LOG_LEVEL: 'warn' } }).start();
  const pub = redis.client();
  const lt = new LoadTest({ ...DEFAULTS, quiet: true, urls: [herald.wsUrl], connections: 600, perProcess: 300, sourceIps: expandSourceIps('127.0.0.2-127.0.0.3'), topicTemplate: 'user:{i}' });
  try {
    await lt.start();
    assert.equal((await lt.waitConnected(600, 20_000)).connected, 600);
    await waitFor('600 user topics', async () => ((await pub.pubsub('CHANNELS', 'herald:user:*')) as string[]).length === 600);
    for (let i = 0; i < 600; i++) assert.equal(await pub.publish(`herald:user:${i}`, JSON.stringify({ t: nowUs(), u: i })), 1);
    await pub.publish('herald:user:5', JSON.stringify({ t: nowUs(), u: 6 }));
    await waitFor('every own message', async () => (await lt.snapshot()).userMessages === 600);
    const window = await lt.snapshot(true);
    assert.deepEqual([window.userMessages, window.misdelivered, window.latency.totalCount, window.lost], [600, 1, 601, 0]);
    assert.equal((await lt.snapshot()).messages, 0, 'a new window starts empty');
  } finally {
    await lt.stop();
    pub.disconnect();
    await herald.stop();
    await redis.stop();
  }
});
