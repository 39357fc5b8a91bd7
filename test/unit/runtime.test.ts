import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger';
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
});
