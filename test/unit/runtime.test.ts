import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger';
import { Beat, runAllTasks } from '../../src/runtime/beat';
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

  it('runs tasks of one period from one timer, and stops the timer with the last task', async () => {
    const beat = new Beat();
    const runs: string[] = [];
    const cancelA = beat.every(20, () => runs.push('a'));
    const cancelB = beat.every(20, () => runs.push('b'));
    assert.deepEqual(beat.periods, [20]);
    while (runs.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(runs.slice(0, 4), ['a', 'b', 'a', 'b']);
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
    const tasks = new Set([{ run: () => runs.push('a') }, { run: () => { throw new Error('b fails'); } }, { run: () => { throw new Error('c fails'); } }, { run: () => runs.push('d') }]);
    assert.throws(() => runAllTasks(tasks), /b fails/);
    assert.deepEqual(runs, ['a', 'd']);
  });
});
