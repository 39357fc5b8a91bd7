// IPC messages between the coordinator and its client processes.
import type { PoolCounters } from './connection-pool';
import type { StatsSnapshot } from './client-stats';
import type { PublishedSeq } from './payload-tracker';
import type { Target } from './options';

export interface WorkerConfig {
  count: number;
  targets: Target[];
  sourceIps: string[];
  indexOffset: number;
  indexStride: number;
  rate: number;
  maxPending: number;
  connectTimeoutMs: number;
  retries: number;
  protocol: 'ws' | 'socketio';
}

export interface MemoryFigures { rss: number; heapUsed: number; external: number; connected: number }

export type ToWorker =
  | { type: 'start'; cfg: WorkerConfig }
  | { type: 'measure' }
  | { type: 'finish'; published: PublishedSeq[] }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; baseline: MemoryFigures }
  | { type: 'progress'; counters: PoolCounters; messages: number }
  | { type: 'memory'; memory: MemoryFigures }
  | { type: 'result'; stats: StatsSnapshot; counters: PoolCounters }
  | { type: 'fatal'; error: string };
