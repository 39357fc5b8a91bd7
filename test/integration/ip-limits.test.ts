import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { closeAll, connect, type Client } from '../../scripts/harness/ws-clients';

type Refused = Error & { status?: number; body?: string };
const from = (localAddress: string) => ({ localAddress }) as never;

describe('per-IP limits', () => {
  it('answers 429 past the concurrent connections per address, and counts each address on its own', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_PER_IP_MAX_CONNECTIONS: '5' } }).start();
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 5; i++) clients.push(await connect(herald.wsUrl, from('127.0.0.1')));
      const err = (await connect(herald.wsUrl, from('127.0.0.1')).catch((e: Refused) => e)) as Refused;
      assert.equal(err.status, 429);
      assert.match(err.body!, /too many connections from this address/);
      // Another source address has its own allowance.
      clients.push(await connect(herald.wsUrl, from('127.0.0.2')));
      // A closed connection frees its slot.
      clients[0].ws.close();
      await clients[0].closed;
      await waitFor('slot freed', async () => (await herald.stats()).connections === 5);
      clients.push(await connect(herald.wsUrl, from('127.0.0.1')));
      const stats = await herald.stats();
      assert.equal((stats.perWorker[0].stats!.upgradesRefused as Record<string, number>).ip_connections, 1);
    } finally {
      closeAll(clients);
      await herald.stop();
    }
  });

  it('answers 429 past the upgrade rate per address, and lets the address in again once the bucket refills', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_PER_IP_UPGRADES_PER_SECOND: '10' } }).start();
    const clients: Client[] = [];
    try {
      const results = await Promise.allSettled(Array.from({ length: 30 }, () => connect(herald.wsUrl, from('127.0.0.3'))));
      for (const r of results) if (r.status === 'fulfilled') clients.push(r.value);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Refused);
      assert.ok(clients.length >= 10 && clients.length <= 13, `accepted ${clients.length} of 30 at 10/s`);
      assert.ok(refused.length > 0 && refused.every((e) => e.status === 429 && /too many upgrades/.test(e.body!)), refused.map((e) => e.message).join());
      // Other addresses are not slowed down by this one.
      clients.push(await connect(herald.wsUrl, from('127.0.0.4')));
      await sleep(1100);
      clients.push(await connect(herald.wsUrl, from('127.0.0.3')));
    } finally {
      closeAll(clients);
      await herald.stop();
    }
  });

  it('is off by default', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1' } }).start();
    const clients: Client[] = [];
    try {
      const results = await Promise.all(Array.from({ length: 50 }, () => connect(herald.wsUrl)));
      clients.push(...results);
      assert.equal(clients.length, 50);
    } finally {
      closeAll(clients);
      await herald.stop();
    }
  });
});
