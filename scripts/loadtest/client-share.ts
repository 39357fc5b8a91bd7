// One share of a run's connections (at most ~19,000, under the per-process file
// limit) and the messages that drive it, in one client process (load-worker.ts).
import { ConnectionPool } from './connection-pool';
import { protocolByName } from './message-protocol';
import { RateMeter } from './rate-meter';
import type { FromWorker, MemoryFigures, ToWorker } from './worker-messages';

const PROGRESS_MS = 200;

export class ClientShare {
  private pool: ConnectionPool | null = null;
  private progressTimer: NodeJS.Timeout | null = null;
  /** --expose-gc is set by the coordinator, so RSS is read after garbage is gone */
  private readonly collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

  constructor(private readonly send: (m: FromWorker) => void) {}

  /** Throws on a message out of order; the caller reports it as fatal. */
  handle(m: ToWorker): void {
    switch (m.type) {
      case 'start': {
        if (this.pool) throw new Error('started twice');
        const baseline = this.memory();
        const pool = (this.pool = new ConnectionPool({ ...m.cfg, backoffMs: 200, maxBackoffMs: 5000, protocol: protocolByName(m.cfg.protocol) }));
        this.send({ type: 'ready', baseline });
        pool.start();
        const meter = new RateMeter();
        this.progressTimer = setInterval(() => {
          const rate = meter.sample(Date.now(), pool.opened);
          this.send({ type: 'progress', counters: pool.counters(), messages: pool.stats.messages, rate });
        }, PROGRESS_MS);
        break;
      }
      case 'measure':
        this.send({ type: 'memory', memory: this.memory() });
        break;
      case 'finish': {
        if (!this.pool) throw new Error('finish before start');
        this.pool.finalize(m.published);
        this.send({ type: 'result', stats: this.pool.stats.snapshot(), counters: this.pool.counters() });
        break;
      }
      case 'snapshot': {
        if (!this.pool) throw new Error('snapshot before start');
        this.send({ type: 'snapshot', stats: this.pool.stats.snapshot(), counters: this.pool.counters() });
        if (m.reset) this.pool.stats.resetMessages();
        break;
      }
      case 'stop':
        this.stop();
        break;
    }
  }

  stop(): void {
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.progressTimer = null;
    this.pool?.stop();
  }

  private memory(): MemoryFigures {
    // RSS is read after garbage is gone (twice: the first pass may leave finalized objects).
    this.collectGarbage();
    this.collectGarbage();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, connected: this.pool ? this.pool.connected : 0 };
  }
}
