// The load client against a real uWebSockets.js server over loopback, with real
// client processes: connection counts, latency, lost and duplicated messages.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { LoadTest, sleep } from '../../scripts/loadtest/coordinator';
import { DEFAULTS, expandSourceIps, type LoadOptions } from '../../scripts/loadtest/options';
import { clockPayload } from '../../scripts/loadtest/publisher';
import { startFixture } from './uws-fixture';

function opts(o: Partial<LoadOptions>): LoadOptions {
  return { ...DEFAULTS, quiet: true, ...o };
}

test('counts connections, latency, a skipped seq as lost and a repeat as duplicate', async () => {
  const fx = await startFixture();
  const lt = new LoadTest(opts({ urls: [fx.url], connections: 300, sourceIps: expandSourceIps('127.0.0.2-127.0.0.4') }));
  try {
    await lt.start();
    const p = await lt.waitConnected(300, 10_000);
    assert.equal(p.connected, 300);
    const mem = await lt.measureMemory();
    assert.ok(mem.bytesPerConnection > 0);
    fx.publish(clockPayload(1));
    fx.publish(clockPayload(2));
    // seq 3 is deliberately never sent
    const four = clockPayload(4);
    fx.publish(four);
    fx.publish(four); // and 4 arrives twice
    fx.publish('not a clock payload');
    await waitMessages(lt, 300 * 4); // 1, 2, 4, 4 (untracked payloads are not counted as messages)
    const r = await lt.collect();
    assert.equal(r.connections.connected, 300);
    assert.equal(r.connections.failed, 0);
    assert.equal(r.latencyMs.count, 900);
    assert.ok(r.latencyMs.min > 0 && r.latencyMs.max < 5000, `latency ${JSON.stringify(r.latencyMs)}`);
    assert.equal(r.messages.lost, 300);
    assert.equal(r.messages.duplicates, 300);
    assert.equal(r.messages.untracked, 300);
    const byseq = new Map(r.broadcasts.map((b) => [b.seq, b]));
    assert.equal(byseq.get(3)?.missing, 300);
    assert.equal(byseq.get(3)?.received, 0);
    for (const s of [1, 2, 4]) {
      assert.equal(byseq.get(s)?.received, 300);
      assert.ok((byseq.get(s)?.completionMs ?? -1) >= (byseq.get(s)?.firstMs ?? Infinity));
    }
  } finally {
    await lt.stop();
    await fx.close();
  }
});

test('retries 503 answers with backoff and counts them by status', async () => {
  const fx = await startFixture({ reject503: 20 });
  const lt = new LoadTest(opts({ urls: [fx.url], connections: 50, retries: 5 }));
  try {
    await lt.start();
    const p = await lt.waitConnected(50, 15_000);
    assert.equal(p.connected, 50);
    const r = await lt.collect();
    assert.equal(r.errors.http_503, 20);
    assert.equal(r.connections.failed, 0);
  } finally {
    await lt.stop();
    await fx.close();
  }
});

test('refused connects are counted and given up after the retries', async () => {
  const fx = await startFixture();
  const url = fx.url;
  await fx.close(); // nothing listens there now
  const lt = new LoadTest(opts({ urls: [url], connections: 10, retries: 1 }));
  try {
    await lt.start();
    const p = await lt.waitConnected(10, 10_000);
    assert.equal(p.connected, 0);
    const r = await lt.collect();
    assert.equal(r.connections.failed, 10);
    assert.equal(r.errors.refused, 20);
  } finally {
    await lt.stop();
  }
});

async function waitMessages(lt: LoadTest, n: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (lt.progress().messages < n && Date.now() < until) await sleep(50);
  await sleep(300); // progress lags the workers by one report interval
}
