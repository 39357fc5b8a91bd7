import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { connectMany } from '../../scripts/harness/ws-clients';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('primary killed (SIGKILL)', () => {
  it('workers drain their clients with 1001 at the configured rate, then exit', { timeout: 60_000 }, async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2', HERALD_DRAIN_RATE: '100' } }).start();
    const clients = await connectMany(herald.wsUrl, 200);
    const stats = await waitFor('both workers hold clients', async () => {
      const s = await herald.stats();
      return s.connections === 200 && s.perWorker.every((w) => w.connections > 0) ? s : undefined;
    });
    const workerPids = stats.perWorker.map((w) => w.pid);
    try {
      const killed = Date.now();
      herald.child.kill('SIGKILL');
      const codes = await Promise.all(clients.map((c) => c.closed));
      const elapsed = Date.now() - killed;
      assert.ok(codes.every((c) => c === 1001), `close codes: ${[...new Set(codes)]}`);
      // The busiest worker holds at least 100 clients; at 100 per second that takes about a second.
      assert.ok(elapsed >= 800, `all closed within ${elapsed} ms: not paced`);
      await waitFor('workers exited', () => workerPids.every((pid) => !alive(pid)), 20_000);
      assert.match(herald.output, /primary gone/);
    } finally {
      for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('workers still exit when their log pipe is gone too (nobody reads stdout)', { timeout: 60_000 }, async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2' } }).start();
    const stats = await herald.stats();
    const workerPids = stats.perWorker.map((w) => w.pid);
    try {
      // Whoever read herald's output (a terminal, a pipe to a log shipper) goes away with the primary.
      herald.child.stdout!.destroy();
      herald.child.stderr!.destroy();
      herald.child.kill('SIGKILL');
      await waitFor('workers exited', () => workerPids.every((pid) => !alive(pid)), 20_000);
    } finally {
      for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
