import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll, connect, connectMany } from '../../scripts/harness/ws-clients';

describe('process lifecycle', () => {
  it('SIGTERM closes every client with 1001 and exits 0', async () => {
    const herald = await new HeraldProcess().start();
    const clients = await connectMany(herald.wsUrl, 200);
    const code = await herald.stop('SIGTERM');
    assert.equal(code, 0, herald.output);
    const codes = await Promise.all(clients.map((c) => c.closed));
    assert.ok(codes.every((c) => c === 1001), `close codes: ${[...new Set(codes)]}`);
    assert.match(herald.output, /herald stopped/);
    assert.match(herald.output, /worker stopped/);
  });

  it('closes connections at the configured drain rate', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_DRAIN_RATE: '100' } }).start();
    const clients = await connectMany(herald.wsUrl, 150);
    const started = Date.now();
    assert.equal(await herald.stop('SIGTERM'), 0);
    const elapsed = Date.now() - started;
    // 150 connections at 100/s cannot all close in less than about one second.
    assert.ok(elapsed >= 900, `drained in ${elapsed} ms`);
    closeAll(clients);
  });

  it('a second signal forces exit', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_DRAIN_RATE: '1' } }).start();
    const clients = await connectMany(herald.wsUrl, 20);
    herald.child.kill('SIGTERM');
    await waitFor('drain started', () => /draining connections/.test(herald.output));
    herald.child.kill('SIGTERM');
    assert.equal(await herald.waitExit(), 1);
    assert.match(herald.output, /second signal: forcing exit/);
    closeAll(clients);
  });

  it('respawns a killed worker, and its clients can reconnect', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2' } }).start();
    try {
      const clients = await connectMany(herald.wsUrl, 100);
      const before = await waitFor('both workers hold clients', async () => {
        const s = await herald.stats();
        return s.perWorker.every((w) => w.connections > 0) ? s : undefined;
      });
      const victim = before.perWorker[0];
      process.kill(victim.pid, 'SIGKILL');
      await waitFor('victim clients closed', () => clients.filter((c) => c.closeCode !== undefined).length === victim.connections);
      const survivors = clients.filter((c) => c.closeCode === undefined);
      await waitFor('worker respawned', async () => {
        const s = await herald.stats();
        return s.perWorker[0].up && s.perWorker[0].pid !== victim.pid;
      }, 10_000);
      assert.equal((await herald.health()).status, 200);
      assert.match(herald.output, /worker died; respawning/);
      const lost = clients.filter((c) => c.closeCode !== undefined);
      const again = await Promise.all(lost.map(() => connect(herald.wsUrl)));
      await herald.publish('broadcast', 'after respawn');
      const everyone = [...survivors, ...again];
      await waitFor('all clients reached', () => everyone.every((c) => c.messages.some((m) => m.data.toString() === 'after respawn')));
      closeAll(everyone);
    } finally {
      await herald.stop();
    }
  });

  it('exits 1 with a message when the port is taken', async () => {
    // node:net listens without SO_REUSEPORT, so uWS cannot share this port.
    const holder = net.createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_PORT: String(port) }, waitHealthy: false }).start();
      assert.equal(await herald.waitExit(), 1);
      assert.match(herald.output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(herald.output, /respawning/);
    } finally {
      holder.close();
    }
  });
});
