/** Messages between the primary and its gateway workers (IPC, advanced serialization). */
import type { LocalBrokerWire } from '../broker/local-broker';
import type { PresenceUpdate } from '../hub/presence-tracker';
import type { WorkerStats } from '../metrics/worker-stats';
import type { DrainMode } from '../runtime/drain-mode';

export type ToWorker =
  | LocalBrokerWire
  | { type: 'stats-request'; id: number }
  | { type: 'metrics-request'; id: number }
  /** Drain and exit; `windowSeconds` (0: as fast as shutdown.closeRatePerSecond allows) spreads the closes. */
  | { type: 'drain'; mode: DrainMode; windowSeconds: number };

export type ToPrimary =
  | LocalBrokerWire
  | { type: 'listening'; port: number; capacity: number }
  | { type: 'stats'; id: number; stats: WorkerStats }
  /** prom-client getMetricsAsJSON() output of the worker's registry. */
  | { type: 'metrics'; id: number; metrics: object[] }
  | { type: 'fatal'; message: string }
  /** Presence counts of one worker that changed (absolute values), batched per presence.flushMs. */
  | { type: 'presence'; pid: number; updates: PresenceUpdate[] };
