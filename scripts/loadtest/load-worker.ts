// One load-client process: holds up to ~19,000 connections and reports to the
// coordinator over IPC. Started by coordinator.ts, never by hand.
import { ConnectionPool } from './connection-pool';
import { protocolByName } from './message-protocol';
import { RateMeter } from './rate-meter';
import type { FromWorker, MemoryFigures, ToWorker } from './worker-messages';

let pool: ConnectionPool | null = null;
let progressTimer: NodeJS.Timeout | null = null;

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

function memory(): MemoryFigures {
  // --expose-gc is set by the coordinator so RSS is read after garbage is gone.
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { g(); g(); }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, connected: pool ? pool.connected : 0 };
}

function handle(m: ToWorker): void {
  switch (m.type) {
    case 'start': {
      if (pool) throw new Error('started twice');
      const baseline = memory();
      pool = new ConnectionPool({ ...m.cfg, backoffMs: 200, maxBackoffMs: 5000, protocol: protocolByName(m.cfg.protocol) });
      send({ type: 'ready', baseline });
      pool.start();
      const meter = new RateMeter();
      progressTimer = setInterval(() => {
        if (!pool) return;
        const rate = meter.sample(Date.now(), pool.opened);
        send({ type: 'progress', counters: pool.counters(), messages: pool.stats.messages, rate });
      }, 200);
      break;
    }
    case 'measure':
      send({ type: 'memory', memory: memory() });
      break;
    case 'finish': {
      if (!pool) throw new Error('finish before start');
      pool.finalize(m.published);
      send({ type: 'result', stats: pool.stats.snapshot(), counters: pool.counters() });
      break;
    }
    case 'stop':
      shutdown(0);
      break;
  }
}

function shutdown(code: number): void {
  if (progressTimer) clearInterval(progressTimer);
  if (pool) pool.stop();
  // Exit once the IPC channel has flushed what was sent.
  if (process.connected) process.disconnect();
  setImmediate(() => process.exit(code));
}

process.on('message', (m: ToWorker) => {
  try {
    handle(m);
  } catch (e) {
    send({ type: 'fatal', error: (e as Error).stack ?? String(e) });
    shutdown(1);
  }
});
// The coordinator died or closed the channel: never outlive it.
process.on('disconnect', () => shutdown(0));
process.on('SIGINT', () => { /* the coordinator handles Ctrl-C and stops us */ });
