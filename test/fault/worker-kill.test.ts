import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll, connectMany } from '../../scripts/harness/ws-clients';

describe('a worker killed (SIGKILL)', () => {
  it('drops only its own clients (1006), the others keep receiving, /health says which worker is down until the respawn', { timeout: 60_000 }, async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2', HERALD_RESPAWN_MIN_DELAY_MS: '1500' } }).start();
    try {
      const clients = await connectMany(herald.wsUrl, 100);
      const before = await waitFor('both workers hold clients', async () => {
        const s = await herald.stats();
        return s.connections === 100 && s.perWorker.every((w) => w.connections > 0) ? s : undefined;
      });
      const victim = before.perWorker[0];
      process.kill(victim.pid, 'SIGKILL');
      await waitFor('its clients dropped', () => clients.filter((c) => c.closeCode !== undefined).length === victim.connections);
      const dropped = clients.filter((c) => c.closeCode !== undefined);
      const survivors = clients.filter((c) => c.closeCode === undefined);
      assert.ok(dropped.every((c) => c.closeCode === 1006));

      const health = await herald.health();
      assert.equal(health.status, 503);
      assert.deepEqual(health.body.reasons, ['workers not up: 0']);
      assert.equal((await herald.publish('broadcast', 'during the gap')).status, 202);
      await waitFor('survivors reached during the gap', () => survivors.every((c) => c.messages.length === 1));

      await waitFor('respawned and healthy', async () => (await herald.health()).status === 200, 15_000);
      closeAll(clients);
    } finally {
      await herald.stop();
    }
  });
});
