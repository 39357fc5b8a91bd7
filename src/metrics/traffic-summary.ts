import type { Logger } from '../logger';
import { processBeat } from '../runtime/beat';
import type { WorkerStats } from './worker-stats';

type Counts = Record<string, number>;

/** The counters a summary reports, as of one moment. */
interface Snapshot {
  connections: number;
  upgrades: number;
  refused: Counts;
  closed: Counts;
  messagesIn: number;
  messagesOut: number;
}

function snapshot(stats: WorkerStats): Snapshot {
  return {
    connections: stats.connections,
    upgrades: stats.upgradesAccepted,
    refused: { ...stats.upgradesRefused },
    closed: { ...stats.connectionsClosed },
    messagesIn: stats.messagesReceived,
    messagesOut: stats.messagesDelivered,
  };
}

function delta(now: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [key, n] of Object.entries(now)) if (n !== (before[key] ?? 0)) out[key] = n - (before[key] ?? 0);
  return out;
}

/**
 * One info line per interval with what a worker did since the last one:
 * connections now, upgrades accepted, refusals by reason, closes by code,
 * messages received from the broker and deliveries to sockets. A worker with
 * nothing new writes nothing. It reads the plain counters the hot paths
 * already keep; at idle it costs a turn of the shared beat per interval.
 */
export class TrafficSummary {
  private last: Snapshot;
  private stopWriting?: () => void;

  constructor(private readonly stats: WorkerStats, private readonly log: Logger, private readonly intervalSeconds: number) {
    this.last = snapshot(stats);
  }

  start(): void {
    if (this.intervalSeconds <= 0) return;
    this.stopWriting ??= processBeat.every(this.intervalSeconds * 1000, () => this.write());
  }

  /** Writes the summary of the interval so far, if anything changed; returns it (for tests). */
  write(): Record<string, unknown> | undefined {
    const now = snapshot(this.stats);
    const last = this.last;
    this.last = now;
    const line = {
      seconds: this.intervalSeconds,
      connections: now.connections,
      upgrades: now.upgrades - last.upgrades,
      refused: delta(now.refused, last.refused),
      closed: delta(now.closed, last.closed),
      messagesIn: now.messagesIn - last.messagesIn,
      messagesOut: now.messagesOut - last.messagesOut,
    };
    const quiet = line.connections === last.connections && line.upgrades === 0 && line.messagesIn === 0 && Object.keys(line.refused).length === 0 && Object.keys(line.closed).length === 0;
    if (quiet) return undefined;
    this.log.info(line, 'traffic summary');
    return line;
  }

  stop(): void {
    this.stopWriting?.();
  }
}
