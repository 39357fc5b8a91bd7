import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionCapacity, readOpenFileLimit } from '../../src/capacity/fd-limits';
import { checkKernelLimits } from '../../src/capacity/kernel-limits';
import { ClientRateLimiter } from '../../src/transport/client-rate-limiter';

describe('capacity and limits', () => {
  it('derives per-worker capacity from the open-file limit, capped by config', () => {
    assert.equal(connectionCapacity({ softLimit: 20000, fdsInUse: 40, reserve: 256, configuredMax: 0 }), 19704);
    assert.equal(connectionCapacity({ softLimit: 20000, fdsInUse: 40, reserve: 256, configuredMax: 500 }), 500);
    assert.equal(connectionCapacity({ softLimit: 100, fdsInUse: 40, reserve: 256, configuredMax: 0 }), 0);
  });

  it('reads this process\'s open-file limit', () => {
    const { soft, hard } = readOpenFileLimit();
    assert.ok(soft > 0 && hard >= soft);
  });

  it('prints a fix for a nofile limit too low for the target', () => {
    const findings = checkKernelLimits({ targetConnections: 1_000_000, workers: 2, nofileSoft: 20000, nofileHard: 20000 });
    const nofile = findings.find((f) => f.name.startsWith('nofile'));
    assert.ok(nofile);
    assert.match(nofile.fix, /limits\.conf/);
    assert.match(nofile.fix, /HERALD_WORKERS to \d+/);
  });

  it('allows a few client messages per window and refuses a flood', () => {
    const limiter = new ClientRateLimiter(3, 1000);
    const socket = {};
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow(socket, 0)), [true, true, true, false]);
    assert.equal(limiter.allow(socket, 1000), true, 'a new window starts over');
    const other = {};
    assert.equal(limiter.allow(other, 1500), true, 'sockets are counted apart');
    limiter.forget(socket);
    assert.deepEqual([1, 2, 3].map(() => limiter.allow(socket, 1600)), [true, true, true], 'a forgotten socket starts over');
  });

  it('empties the client frame counts when the window ends, not when the next frame comes', () => {
    const timers: { fn: () => void; ms: number }[] = [];
    const limiter = new ClientRateLimiter(3, 1000, (fn, ms) => timers.push({ fn, ms }));
    const a = {}, b = {};
    limiter.allow(a, 0);
    limiter.allow(b, 400);
    assert.deepEqual(timers.map((t) => t.ms), [1000], 'one timer per window, set by its first frame');
    assert.equal(limiter.size, 2);
    timers.shift()!.fn();
    assert.equal(limiter.size, 0, 'a window without frames after its end holds nothing');
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow(a, 1500)), [true, true, true, false], 'the next frame opens a new window');
    assert.deepEqual(timers.map((t) => t.ms), [1000]);
  });

  it('keeps a later window\'s counts when the earlier window\'s timer runs late', () => {
    const timers: (() => void)[] = [];
    const limiter = new ClientRateLimiter(2, 1000, (fn) => timers.push(fn));
    const a = {};
    limiter.allow(a, 0);
    // The event loop was busy: a frame at 1,200 opens the next window before the timer for 1,000 runs.
    limiter.allow(a, 1200);
    limiter.allow(a, 1300);
    timers.shift()!();
    assert.equal(limiter.size, 1);
    assert.equal(limiter.allow(a, 1400), false, 'the third frame of the window at 1,200 is still the third');
    assert.equal(timers.length, 1, 'the later window got its own timer');
    timers.shift()!();
    assert.equal(limiter.size, 0);
  });
});
