// The load client against the real herald (dist/workers/primary.js, 2 gateway workers,
// Redis broker): two client processes, broadcasts published through Redis by the run.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort, startRedis } from './uws-fixture';
import type { LoadResult } from '../../scripts/loadtest/result';

const ROOT = path.join(__dirname, '..', '..');
const PRIMARY = path.join(ROOT, 'workers', 'primary.js');
const CLI = path.join(ROOT, 'scripts', 'loadtest.js');

test('against herald: 2 client processes, 3 broadcasts through Redis, none lost', { skip: !existsSync(PRIMARY) && 'herald primary not built' }, async () => {
  const redis = await startRedis();
  const [port, admin] = [await freePort(), await freePort()];
  // detached: its own process group, so the primary and its workers are stopped together.
  const herald = spawn(process.execPath, [PRIMARY], {
    detached: true, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HERALD_WORKERS: '2', HERALD_PORT: String(port), HERALD_ADMIN_PORT: String(admin), HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_LOG_LEVEL: 'warn' },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'loadtest-'));
  try {
    const until = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${admin}/health`).then((r) => r.status === 200, () => false);
      if (ok) break;
      assert.ok(Date.now() < until && herald.exitCode === null, 'herald did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = path.join(dir, 'r.json');
    const code = await new Promise<number>((resolve) => execFile(process.execPath, [CLI, '-c', '600', '--per-process', '300',
      '--source-ips', '127.0.0.2-127.0.0.3', '--publish-via', redis.url, '--publish-count', '3', '--publish-interval', '0.3',
      '--settle', '1', '--quiet', '--out', out, `ws://127.0.0.1:${port}/ws`], { timeout: 40_000 },
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
    if (herald.exitCode === null && herald.pid) {
      const exited = new Promise((r) => herald.once('exit', r));
      process.kill(-herald.pid, 'SIGTERM');
      const t = setTimeout(() => { try { process.kill(-herald.pid!, 'SIGKILL'); } catch { /* already gone */ } }, 5000);
      await exited;
      clearTimeout(t);
    }
    await redis.stop();
  }
});
