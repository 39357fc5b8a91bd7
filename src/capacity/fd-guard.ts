import type { Logger } from '../logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { processBeat, type Beat } from '../runtime/beat';
import { countOpenFds } from './fd-limits';

/** What the guard needs of the gateway: close and reopen the listen socket. */
export interface Listener {
  stopAccepting(): void;
  listen(): Promise<number>;
}

/**
 * How often the cheap CPU probe runs (on the worker's shared one-second beat, so
 * it costs no wake-up of its own), and the least time between two descriptor counts.
 */
const PROBE_MS = 1000;
const MIN_COUNT_GAP_MS = 2000;
/** A worker this busy over a probe interval may be spinning on accept(); count its descriptors. */
const BUSY_SHARE = 0.5;
/** Even an idle-looking worker gets counted now and then (at 15,000 descriptors a count is ~20 ms: a tenth of an idle worker's CPU at once a minute). */
const SAFETY_COUNT_MS = 300_000;

/**
 * Keeps the worker from sitting at its open-file limit. uSockets' accept path
 * has no back-off: once accept() fails with EMFILE, the level-triggered listen
 * socket spins a core at 100%. Upgrades past capacity already get 503, but raw
 * connections that never upgrade also hold descriptors, so near the limit the
 * worker closes its listen socket (SO_REUSEPORT sends new connections to the
 * other workers) and reopens it once there is room.
 *
 * Counting /proc/self/fd costs about 1.2 us per open descriptor (20 ms at
 * 16,000), too much to run often on 60 idle workers. So the guard watches the
 * process's CPU time, which costs one getrusage() call: only a busy worker
 * (the symptom of the spin), a paused one, or one not counted for five minutes
 * pays for a count.
 */
export class FdGuard {
  private stopProbing?: () => void;
  private checking = false;
  private paused = false;
  private lastCpu = process.cpuUsage();
  private lastProbe = Date.now();
  private lastCount = 0;

  constructor(private readonly deps: { gateway: Listener; stats: WorkerStats; limit: number; reserve: number; log: Logger; beat?: Beat }) {}

  start(): void {
    this.stopProbing ??= (this.deps.beat ?? processBeat).every(PROBE_MS, () => {
      if (this.checking) return; // a resume still waiting for listen()
      this.checking = true;
      void this.check().finally(() => (this.checking = false));
    });
  }

  stop(): void {
    this.stopProbing?.();
  }

  private busyShare(now: number): number {
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const share = (cpu.user + cpu.system) / 1000 / Math.max(1, now - this.lastProbe);
    this.lastProbe = now;
    return share;
  }

  private openFds(): number {
    try {
      return countOpenFds();
    } catch (err) {
      // Counting needs a descriptor itself: EMFILE means the table is full.
      if ((err as NodeJS.ErrnoException).code !== 'EMFILE') throw err;
      return this.deps.limit;
    }
  }

  private async check(): Promise<void> {
    const { gateway, stats, limit, reserve, log } = this.deps;
    const now = Date.now();
    const busy = this.busyShare(now);
    const due = this.paused || now - this.lastCount >= SAFETY_COUNT_MS || (busy >= BUSY_SHARE && now - this.lastCount >= MIN_COUNT_GAP_MS);
    if (due) {
      this.lastCount = now;
      const open = this.openFds();
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
    }
  }
}
