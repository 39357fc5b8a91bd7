import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { range, type EnvelopeFrame } from '../helpers/envelope-client';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { fcallPublish, RedisServer } from '../../scripts/harness/redis-server';
import { connect, type Client } from '../../scripts/harness/ws-clients';

/** A client that, like the documented browser snippet, reconnects with since=<topic>:<last seq> whenever it is dropped. */
class ResumingClient {
  reconnects = 0;
  /** Every connection this client made; each records its frames from the first byte (see Client). */
  private readonly connections: Client[] = [];
  private stopped = false;

  constructor(private readonly wsUrl: string, private readonly topic: string) {}

  /** Seqs received over all connections, in order. */
  get seqs(): number[] {
    return this.connections.flatMap((c) =>
      c.messages.map((m) => JSON.parse(m.data.toString()) as EnvelopeFrame).filter((f) => f.type === 'message' && f.topic === this.topic).map((f) => f.seq!),
    );
  }

  async start(): Promise<void> {
    const last = this.seqs.at(-1);
    const since = last === undefined ? '' : `&since=${this.topic}:${last}`;
    let client: Client;
    for (;;) {
      try {
        client = await connect(`${this.wsUrl}?format=envelope&topics=${this.topic}${since}`);
        break;
      } catch {
        await sleep(50); // the worker that took the connection may be gone for a moment
      }
    }
    this.connections.push(client);
    void client.closed.then(async () => {
      if (this.stopped) return;
      this.reconnects++;
      await sleep(Math.random() * 200);
      await this.start();
    });
  }

  stop(): void {
    this.stopped = true;
    this.connections.at(-1)?.ws.terminate();
  }
}

describe('a worker killed during a stream of publishes', () => {
  const redis = new RedisServer();
  let herald: HeraldProcess;
  let pub: Redis;

  before(async () => {
    await redis.start();
    herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_HISTORY: 'feed=100000/300' } }).start();
    pub = redis.client();
  });

  after(async () => {
    pub?.disconnect();
    await herald?.stop();
    await redis.stop();
  });

  it('its clients reconnect to the remaining workers and recover everything, once, in order', async () => {
    const clients = Array.from({ length: 200 }, () => new ResumingClient(herald.wsUrl, 'feed'));
    await Promise.all(clients.map((c) => c.start()));
    const stats = await waitFor('clients on both workers', async () => {
      const s = await herald.stats();
      return s.connections === 200 && s.perWorker.every((w) => w.connections > 0) ? s : undefined;
    });
    await waitFor('subscribed', async () => (await pub.pubsub('NUMSUB', 'herald:feed'))[1] === 2);
    const total = 1500;
    try {
      for (let i = 1; i <= total; i++) {
        await fcallPublish(pub, 'feed', Buffer.from(`f${i}`));
        if (i === 500) process.kill(stats.perWorker[0].pid, 'SIGKILL');
        if (i % 50 === 0) await sleep(5);
      }
      await waitFor('every client has every message', () => clients.every((c) => c.seqs.length >= total), 30_000).catch((err: Error) => {
        const short = clients.filter((c) => c.seqs.length < total);
        const seqs = short[0].seqs;
        throw new Error(`${err.message}: ${short.length} short, e.g. ${seqs.length} seqs, last ${seqs.at(-1)}, dup/gap at ${seqs.findIndex((q, i) => q !== i + 1)}`);
      });
      const dropped = clients.filter((c) => c.reconnects > 0).length;
      assert.ok(dropped > 0, 'some clients lost their worker');
      for (const c of clients) assert.deepEqual(c.seqs, range(1, total));
    } finally {
      for (const c of clients) c.stop();
    }
  });
});
