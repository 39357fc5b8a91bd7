import type { Logger } from '../logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { CloseCode } from '../protocol/close-codes';
import type { ConnectionRegistry } from './connection-registry';

/** Longest time between a message going out and the sweep that looks for connections it left behind. */
export const SWEEP_DELAY_MS = 1000;

/**
 * Slow consumers: uWS stops queueing messages for a connection whose send
 * buffer is over maxBackpressure. The fan-out tick (a message went out) arms a
 * one-shot sweep within SWEEP_DELAY_MS, so a worker with no traffic runs no
 * timer at all, and one with traffic walks its sockets at most once a second.
 */
export class SlowConsumerSweep {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly options: { maxBufferedBytes: number; policy: 'skip' | 'close' },
    private readonly stats: WorkerStats,
    private readonly log: Logger,
  ) {}

  /** The fan-out tick. */
  noteFanout(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
    }, SWEEP_DELAY_MS);
    this.timer.unref();
  }

  sweep(): void {
    const slow = this.registry.overBuffered(this.options.maxBufferedBytes);
    this.stats.slowConsumersNow = slow.length;
    if (this.options.policy !== 'close') return;
    for (const ws of slow) {
      this.registry.delete(ws);
      this.stats.slowConsumerCloses++;
      ws.end(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
    if (slow.length > 0) this.log.warn({ closed: slow.length }, 'closed slow consumers');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
