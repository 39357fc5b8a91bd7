import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

/** A WebSocket client that completes the handshake and then never reads: the slowest consumer. */
function unresponsiveClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
    );
    // A small receive buffer makes the server-side backlog build up quickly.
    socket.setNoDelay(true);
    socket.once('data', (d) => {
      if (!d.toString().startsWith('HTTP/1.1 101')) return reject(new Error(d.toString()));
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => {});
  });
}

async function flood(herald: HeraldProcess, messages: number, bytes: number) {
  const body = Buffer.alloc(bytes, 0x61);
  for (let i = 0; i < messages; i++) assert.equal((await herald.publish('broadcast', body)).status, 202);
}

describe('slow consumers', () => {
  it('"close" policy: a unresponsive client is closed and counted; healthy clients get everything', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_MAX_BUFFERED_BYTES: '65536', HERALD_SLOW_CONSUMER_POLICY: 'close' } }).start();
    try {
      const unresponsive = await unresponsiveClient(herald.port);
      const healthy = await connect(herald.wsUrl);
      await flood(herald, 60, 100_000);
      await waitFor('slow consumer closed', async () => {
        const w = (await herald.stats()).perWorker[0].stats as Record<string, number>;
        return w.slowConsumerCloses === 1;
      });
      await waitFor('healthy client got all 60', () => healthy.messages.length === 60);
      assert.equal(healthy.closeCode, undefined);
      await waitFor('unresponsive connection gone', async () => (await herald.stats()).connections === 1, 20_000);
      unresponsive.destroy();
      closeAll([healthy]);
    } finally {
      await herald.stop();
    }
  });

  it('"skip" policy: a unresponsive client stays connected and is reported as skipping', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_MAX_BUFFERED_BYTES: '65536', HERALD_SLOW_CONSUMER_POLICY: 'skip' } }).start();
    try {
      const unresponsive = await unresponsiveClient(herald.port);
      await flood(herald, 60, 100_000);
      await waitFor('reported as skipping', async () => {
        const w = (await herald.stats()).perWorker[0].stats as Record<string, number>;
        return w.slowConsumersNow === 1;
      });
      const stats = await herald.stats();
      assert.equal(stats.connections, 1);
      assert.equal(stats.slowConsumerCloses, 0);
      // The worker's memory for it stays bounded by the limit: well under the 6 MB published.
      unresponsive.destroy();
    } finally {
      await herald.stop();
    }
  });
});
