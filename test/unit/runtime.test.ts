import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger';
import { Beat, runDueTasks } from '../../src/runtime/beat';
import { IpcDispatcher } from '../../src/runtime/ipc-dispatcher';
import { ShutdownList } from '../../src/runtime/shutdown-list';

const log = createLogger('silent', 'script');

describe('process runtime', () => {
  it('closes newest first, once, past a closer that throws or hangs', async () => {
    const done: string[] = [];
    const list = new ShutdownList(log);
    list.add('broker', () => done.push('broker'));
    list.add('hangs', () => new Promise(() => {}), 50);
    list.add('throws', () => {
      throw new Error('boom');
    });
    list.add('gateway', async () => {
      done.push('gateway');
    });
    assert.deepEqual(list.order, ['gateway', 'throws', 'hangs', 'broker']);
    await Promise.all([list.close(), list.close()]);
    assert.deepEqual(done, ['gateway', 'broker']);
  });

  it('routes IPC messages by type and reports unknown ones', () => {
    type Msg = { type: 'a'; n: number } | { type: 'b'; s: string };
    const seen: unknown[] = [];
    const unknown: unknown[] = [];
    const ipc = new IpcDispatcher<Msg, string>((m) => unknown.push(m))
      .on('a', (m, from) => seen.push([from, m.n]))
      .on('b', (m) => seen.push(m.s));
    ipc.dispatch({ type: 'a', n: 1 }, 'w0');
    ipc.dispatch({ type: 'b', s: 'x' }, 'w1');
    ipc.dispatch({ type: 'c' }, 'w1');
    ipc.dispatch('junk', 'w1');
    assert.deepEqual(seen, [['w0', 1], 'x']);
    assert.equal(unknown.length, 2);
    assert.throws(() => ipc.on('a', () => {}), /already has a handler/);
  });

  it('runs every task whose period is a multiple of the base from one timer, others from a timer per period', async () => {
    const beat = new Beat(20);
    const runs: string[] = [];
    const cancelA = beat.every(20, () => runs.push('a'));
    const cancelB = beat.every(40, () => runs.push('b'));
    const cancelC = beat.every(30, () => runs.push('c'));
    assert.deepEqual(beat.periods.sort(), [20, 30]);
    while (runs.filter((r) => r === 'a').length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    const ab = runs.filter((r) => r !== 'c');
    assert.deepEqual(ab.slice(0, 6), ['a', 'a', 'b', 'a', 'a', 'b'].slice(0, ab.slice(0, 6).length));
    assert.ok(runs.includes('c'));
    cancelC();
    assert.deepEqual(beat.periods, [20]);
    cancelA();
    cancelA(); // twice is harmless
    assert.deepEqual(beat.periods, [20]);
    cancelB();
    assert.deepEqual(beat.periods, []);
    const before = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(runs.length, before);
  });

  it('a failing task neither starves the others of its tick nor is swallowed', () => {
    const runs: string[] = [];
    const task = (run: () => void, ticks = 1) => ({ run, ticks, left: ticks });
    const tasks = new Set([task(() => runs.push('a')), task(() => { throw new Error('b fails'); }), task(() => { throw new Error('c fails'); }), task(() => runs.push('d')), task(() => runs.push('every other'), 2)]);
    assert.throws(() => runDueTasks(tasks), /b fails/);
    assert.deepEqual(runs, ['a', 'd']);
    assert.throws(() => runDueTasks(tasks), /b fails/);
    assert.deepEqual(runs, ['a', 'd', 'a', 'd', 'every other']);
  });
});
