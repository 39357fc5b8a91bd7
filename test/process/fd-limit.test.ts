import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { closeAll, connect, type Client } from '../../scripts/harness/ws-clients';

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rawConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => resolve(socket));
  });
}

describe('at the open-file limit', () => {
  it('answers 503 before running out, never spins on accept, and recovers', async () => {
    const herald = await new HeraldProcess({
      env: { HERALD_WORKERS: '1', HERALD_FD_RESERVE: '64' },
      // A lowered limit for this herald only: soft and hard 256 descriptors per process.
      wrap: ['bash', '-c', 'ulimit -n 256 && exec "$0" "$@"'],
    }).start();
    const clients: Client[] = [];
    const raw: net.Socket[] = [];
    try {
      const worker = (await herald.stats()).perWorker[0];
      const capacity = (worker.stats as { capacity: number }).capacity;
      assert.ok(capacity > 50 && capacity < 256 - 64, `capacity ${capacity} leaves the reserve free`);

      for (let i = 0; i < capacity; i++) clients.push(await connect(herald.wsUrl));
      await assert.rejects(connect(herald.wsUrl), { status: 503 });

      // Connections that never upgrade eat the reserve; accept() would hit EMFILE.
      for (let i = 0; i < 120; i++) raw.push(await rawConnection(herald.port));
      await waitFor('guard paused accepting', () => /near the open-file limit: stopped accepting/.test(herald.output), 10_000);
      const before = cpuSeconds(worker.pid);
      await sleep(2000);
      const used = cpuSeconds(worker.pid) - before;
      assert.ok(used < 0.5, `worker used ${used} CPU seconds in 2 s at the limit (an accept spin uses ~2)`);

      for (const s of raw) s.destroy();
      closeAll(clients.splice(0, 10));
      await waitFor('accepting again', () => /below the open-file limit again: accepting/.test(herald.output), 10_000);
      const again = await waitFor('a new client connects', () => connect(herald.wsUrl).catch(() => undefined), 10_000, 200);
      clients.push(again);
      assert.equal((await herald.health()).status, 200);
    } finally {
      for (const s of raw) s.destroy();
      closeAll(clients);
      await herald.stop();
    }
  });
});
