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
});
