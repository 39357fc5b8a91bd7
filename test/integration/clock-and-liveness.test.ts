import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

describe('clock publisher', () => {
  it('pushes the server time with a microsecond stamp and a sequence number', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_CLOCK_INTERVAL: '1' } }).start();
    try {
      const c = await connect(herald.wsUrl);
      await waitFor('two ticks', () => c.messages.length >= 2, 5000);
      const [a, b] = c.messages.map((m) => JSON.parse(m.data.toString()) as { t: number; seq: number; time: string });
      assert.equal(b.seq, a.seq + 1);
      const nowMicros = Date.now() * 1000;
      assert.ok(Number.isInteger(a.t) && Math.abs(nowMicros - a.t) < 10_000_000, 't is wall-clock microseconds');
      assert.equal(new Date(a.time).getTime(), Math.floor(a.t / 1000));
      closeAll([c]);
    } finally {
      await herald.stop();
    }
  });
});

describe('liveness', () => {
  it('reaps a silent peer after the idle timeout and keeps a client that answers pings', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_IDLE_TIMEOUT: '8', HERALD_SEND_PINGS: 'true' } }).start();
    try {
      // A raw client that completed the handshake and then never answers anything, like a dead peer.
      const dead = net.connect(herald.port, '127.0.0.1', () =>
        dead.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
      );
      dead.on('data', () => {}); // reads, never writes (no pong)
      dead.on('error', () => {});
      const deadClosed = new Promise<number>((resolve) => {
        const started = Date.now();
        dead.on('close', () => resolve(Date.now() - started));
      });
      const alive = await connect(herald.wsUrl); // the ws package answers pings
      const afterMs = await deadClosed;
      assert.ok(afterMs >= 7000 && afterMs < 20_000, `dead peer reaped after ${afterMs} ms`);
      assert.equal(alive.closeCode, undefined, 'a client answering pings stays connected');
      assert.equal((await herald.stats()).connections, 1);
      closeAll([alive]);
    } finally {
      await herald.stop();
    }
  });
});
