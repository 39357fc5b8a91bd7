import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { TrafficSummary } from '../../src/metrics/traffic-summary';
import { countClose, countRefusal, newWorkerStats } from '../../src/metrics/worker-stats';
import { SampledLog } from '../../src/runtime/sampled-log';

/** A pino logger writing into an array of parsed lines. */
function memoryLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}

describe('sampled traffic log', () => {
  it('is not built below debug, so info-level events cost one undefined check', () => {
    assert.equal(SampledLog.create(memoryLogger('info').log, 10), undefined);
  });

  it('writes at most perSecond lines per kind per second, then says how many it left out', async () => {
    let now = 0;
    const { log, lines } = memoryLogger('debug');
    const sampled = SampledLog.create<'connect' | 'close'>(log, 3, () => now)!;
    for (let i = 0; i < 10; i++) sampled.event('connect', { i }, 'connected');
    sampled.event('close', { code: 1000 }, 'closed');
    now = 1000;
    sampled.event('connect', { i: 10 }, 'connected');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines.map((l) => l.msg), ['connected', 'connected', 'connected', 'closed', 'traffic events not logged in the last second (log.eventsPerSecond; trace level logs all)', 'connected']);
    assert.deepEqual(lines[4].skipped, { connect: 7 });
    assert.equal(lines[0].event, 'connect');
  });

  it('writes every event at trace level', async () => {
    const { log, lines } = memoryLogger('trace');
    const sampled = SampledLog.create<'connect'>(log, 1, () => 0)!;
    for (let i = 0; i < 50; i++) sampled.event('connect', { i }, 'connected');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 50);
  });
});

describe('traffic summary', () => {
  it('sums up what changed since the last line, and says nothing when nothing did', async () => {
    const { log, lines } = memoryLogger('info');
    const stats = newWorkerStats(0);
    const summary = new TrafficSummary(stats, log, 60);
    assert.equal(summary.write(), undefined, 'a quiet worker writes nothing');
    stats.connections = 5;
    stats.upgradesAccepted = 7;
    countRefusal(stats, 'capacity');
    countClose(stats, 1006);
    countClose(stats, 1006);
    stats.messagesReceived = 3;
    stats.messagesDelivered = 15;
    assert.deepEqual(summary.write(), { seconds: 60, connections: 5, upgrades: 7, refused: { capacity: 1 }, closed: { 1006: 2 }, messagesIn: 3, messagesOut: 15 });
    countRefusal(stats, 'capacity');
    stats.messagesReceived = 4;
    stats.messagesDelivered = 20;
    assert.deepEqual(summary.write(), { seconds: 60, connections: 5, upgrades: 0, refused: { capacity: 1 }, closed: {}, messagesIn: 1, messagesOut: 5 });
    assert.equal(summary.write(), undefined);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines.map((l) => [l.level, l.msg]), [[30, 'traffic summary'], [30, 'traffic summary']]);
  });

  it('starts no timer when disabled, and stops its timer', () => {
    const stats = newWorkerStats(0);
    const off = new TrafficSummary(stats, memoryLogger('info').log, 0);
    off.start();
    off.stop();
    const on = new TrafficSummary(stats, memoryLogger('info').log, 60);
    on.start();
    on.stop();
  });
});
