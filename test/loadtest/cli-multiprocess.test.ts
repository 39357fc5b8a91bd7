// The CLI end to end: two client processes (--per-process 300), broadcasts published by
// the run itself through a real redis-server or the HTTP admin endpoint, JSON and HTML out.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RedisServer } from '../../scripts/harness/redis-server';
import { startFixture } from './uws-fixture';
import type { LoadResult } from '../../scripts/loadtest/result';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'loadtest.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('two client processes, publishing through redis: every broadcast reaches every connection', async () => {
  const redis = await new RedisServer().start();
  const fx = await startFixture({ redisUrl: redis.url });
  const dir = mkdtempSync(path.join(tmpdir(), 'loadtest-'));
  try {
    const out = path.join(dir, 'r.json'), html = path.join(dir, 'r.html');
    const r = await runCli(['--connections', '500', '--per-process', '300', '--source-ips', '127.0.0.2-127.0.0.3',
      '--publish-via', redis.url, '--publish-count', '3', '--publish-interval', '0.3', '--settle', '0.5',
      '--out', out, '--html', html, fx.url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const res: LoadResult = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(res.processes, 2);
    assert.equal(res.connections.connected, 500);
    assert.equal(res.messages.received, 1500);
    assert.equal(res.messages.lost, 0);
    assert.deepEqual(res.broadcasts.map((b) => [b.seq, b.received, b.missing]), [[1, 500, 0], [2, 500, 0], [3, 500, 0]]);
    assert.ok(res.published.every((p) => p.receivers === 1));
    assert.match(r.stdout, /active connections: 500 \/ 500/);
    assert.match(r.stdout, /99\.9%=/);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<svg/);
    assert.doesNotMatch(page, /<script|https?:\/\/cdn/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await fx.close();
    await redis.stop();
  }
});

test('publishing over HTTP with an API key: a published seq nobody received is lost', async () => {
  // The server drops seq 3, the last one: no later seq reveals the gap, only the
  // run's own record of what it published does.
  const fx = await startFixture({ apiKey: 'sekret', dropSeqs: [3] });
  const dir = mkdtempSync(path.join(tmpdir(), 'loadtest-'));
  try {
    const out = path.join(dir, 'r.json');
    const r = await runCli(['-c', '400', '--per-process', '300', '--publish-via', `http://127.0.0.1:${fx.port}`, '--api-key', 'sekret',
      '--publish-count', '3', '--publish-interval', '0.3', '--settle', '0.5', '--out', out, fx.url]);
    assert.equal(r.code, 2, 'exit code 2 signals lost messages');
    const res: LoadResult = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(res.connections.connected, 400);
    assert.equal(res.messages.lost, 400);
    const b3 = res.broadcasts.find((b) => b.seq === 3);
    assert.equal(b3?.missing, 400);
    assert.equal(fx.received.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await fx.close();
  }
});
