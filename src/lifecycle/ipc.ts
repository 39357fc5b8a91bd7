/** Messages between the primary and its gateway workers (child_process IPC, advanced serialization). */
import type { WorkerStats } from '../hub/worker-stats';

export type ToWorker =
  | { type: 'publish'; topic: string; payload: Uint8Array }
  | { type: 'stats-request'; id: number }
  | { type: 'metrics-request'; id: number }
  /**
   * Drain and exit. `drainWindowSeconds` (0: as fast as the configured rate) spreads the closes;
   * `restart` marks a rolling restart, where a replacement already listens and late upgrades are still served.
   */
  | { type: 'shutdown'; closeCode: number; reason: string; drainWindowSeconds?: number; restart?: boolean };

export type ToPrimary =
  | { type: 'listening'; port: number; capacity: number }
  | { type: 'stats'; id: number; stats: WorkerStats }
  /** prom-client getMetricsAsJSON() output of the worker's registry. */
  | { type: 'metrics'; id: number; metrics: object[] }
  | { type: 'fatal'; message: string };

function hasType(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string';
}

export const isToWorker = hasType as (msg: unknown) => msg is ToWorker;
export const isToPrimary = hasType as (msg: unknown) => msg is ToPrimary;

/** Advanced serialization hands Buffers over as plain Uint8Arrays; view them without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
