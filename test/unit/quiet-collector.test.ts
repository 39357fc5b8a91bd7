import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerExecArgv } from '../../src/lifecycle/supervisor';
import { createLogger } from '../../src/logger';
import { QUIET_COLLECT_MIN_CHURN, QUIET_COLLECT_MIN_GROWTH_BYTES, QuietCollector } from '../../src/runtime/quiet-collector';

const MB = 2 ** 20;

/** A worker seen from the collector: churn counter, heap size and a clock the test moves. */
function fakeWorker(quietMs = 30_000, startHeap = 10 * MB) {
  const w = { churn: 0, heap: startHeap, now: 0, collections: 0, heapAfterCollect: 10 * MB };
  const collector = new QuietCollector({
    churn: () => w.churn,
    heapUsed: () => w.heap,
    collect: () => {
      w.collections++;
      w.heap = w.heapAfterCollect;
    },
    quietMs,
    log: createLogger('silent', 'script'),
    now: () => w.now,
  });
  const tick = (ms = 1000) => {
    w.now += ms;
    return collector.tick();
  };
  return { w, tick };
}

describe('quiet collector', () => {
  it('collects once churn has stopped for quietMs and the heap grew, and not again until it grows again', () => {
    const { w, tick } = fakeWorker();
    // Churn: connections open and close every second, the heap grows.
    for (let i = 0; i < 60; i++) {
      w.churn++;
      w.heap += MB;
      assert.equal(tick(), false, 'never while connections open or close');
    }
    for (let s = 1; s < 30; s++) assert.equal(tick(), false, `not after ${s} quiet seconds`);
    assert.equal(tick(), true);
    assert.equal(w.collections, 1);
    for (let s = 0; s < 120; s++) assert.equal(tick(), false, 'quiet and no growth: nothing more');
    w.heap += QUIET_COLLECT_MIN_GROWTH_BYTES;
    assert.equal(tick(), true, 'grew again while quiet');
  });

  it('leaves a quiet worker alone when its heap grew less than the threshold', () => {
    const { w, tick } = fakeWorker(5000);
    w.churn++;
    w.heap += QUIET_COLLECT_MIN_GROWTH_BYTES - 1;
    for (let s = 0; s < 60; s++) assert.equal(tick(), false);
    assert.equal(w.collections, 0);
  });

  it('collects after enough connections opened or closed, however little the heap grew, once per such spell', () => {
    const { w, tick } = fakeWorker(5000);
    w.churn += QUIET_COLLECT_MIN_CHURN - 1;
    w.heap += MB;
    for (let s = 0; s < 10; s++) assert.equal(tick(), false, 'one connection short of the churn threshold');
    w.churn++;
    for (let s = 0; s < 10; s++) tick();
    assert.equal(w.collections, 1);
    // The next ramp counts from this collection, not from the start.
    w.churn += QUIET_COLLECT_MIN_CHURN / 2;
    for (let s = 0; s < 10; s++) tick();
    assert.equal(w.collections, 1);
    w.churn += QUIET_COLLECT_MIN_CHURN / 2;
    for (let s = 0; s < 10; s++) tick();
    assert.equal(w.collections, 2);
  });

  it('measures growth from the lowest heap it has seen, not from the start-up heap', () => {
    // Start-up garbage: 13 MB when the collector starts, 7 MB once V8 has collected it.
    const { w, tick } = fakeWorker(5000, 13 * MB);
    w.heap = 7 * MB;
    tick();
    // Churn takes it to 12 MB: under the start-up figure, but 5 MB over what is live.
    w.churn++;
    w.heap = 12 * MB;
    w.heapAfterCollect = 7 * MB;
    for (let s = 0; s < 7; s++) tick();
    assert.equal(w.collections, 1);
    // From its own result: 7 MB after it, so 10 MB is 3 MB of growth, left alone.
    w.churn++;
    tick();
    w.heap = 10 * MB;
    for (let s = 0; s < 10; s++) tick();
    assert.equal(w.collections, 1);
  });
});

describe('worker Node flags', () => {
  it('adds --expose-gc after the configured flags when the quiet collection is on, once', () => {
    assert.deepEqual(workerExecArgv(['--inspect=0'], { workerNodeOptions: '--max-semi-space-size=1', quietCollectSeconds: 30 }), ['--inspect=0', '--max-semi-space-size=1', '--expose-gc']);
    assert.deepEqual(workerExecArgv([], { workerNodeOptions: '--expose-gc', quietCollectSeconds: 30 }), ['--expose-gc']);
    assert.deepEqual(workerExecArgv([], { workerNodeOptions: ' --max-old-space-size=256 ', quietCollectSeconds: 0 }), ['--max-old-space-size=256']);
  });
});
