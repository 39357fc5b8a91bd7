import type { Logger } from '../logger';
import type { Gateway } from '../transport/gateway-app';
import type { WorkerStats } from '../hub/worker-stats';
import { countOpenFds } from './fd-limits';

/**
 * Keeps the worker from sitting at its open-file limit. uSockets' accept path
 * has no back-off: once accept() fails with EMFILE, the level-triggered listen
 * socket spins a core at 100%. Upgrades past capacity already get 503, but raw
 * connections that never upgrade also hold descriptors, so this counts real
 * descriptors and closes the listen socket while the worker is near the limit
 * (SO_REUSEPORT sends new connections to the other workers meanwhile).
 *
 * Counting /proc/self/fd costs about 1.2 us per open descriptor, so the check
 * runs less often the more descriptors are open: about 0.5% of one core at any size.
 */
export class FdGuard {
  private timer?: NodeJS.Timeout;
  private paused = false;
  private stopped = false;

  constructor(private readonly deps: { gateway: Gateway; stats: WorkerStats; limit: number; reserve: number; log: Logger }) {}

  start(): void {
    this.schedule(250);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), ms);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const { gateway, stats, limit, reserve, log } = this.deps;
    let open: number;
    try {
      open = countOpenFds();
    } catch (err) {
      // Counting needs a descriptor itself: EMFILE means the table is full.
      if ((err as NodeJS.ErrnoException).code !== 'EMFILE') throw err;
      open = limit;
    }
    if (!this.paused && open > limit - reserve / 2) {
      this.paused = true;
      gateway.stopAccepting();
      log.warn({ open, limit, connections: stats.connections }, 'near the open-file limit: stopped accepting');
    } else if (this.paused && open < limit - reserve) {
      try {
        await gateway.listen();
        this.paused = false;
        log.info({ open, limit }, 'below the open-file limit again: accepting');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'cannot resume listening');
      }
    }
    this.schedule(this.paused ? 250 : Math.min(5000, Math.max(250, open / 4)));
  }
}
