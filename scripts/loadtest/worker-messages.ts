// IPC messages between the coordinator and its client processes.
import type { PoolConfig, PoolCounters } from './connection-pool';
import type { StatsSnapshot } from './client-stats';
import type { PublishedSeq } from './payload-tracker';

/** A client process's share of the run: the pool's settings, with the protocol by name (it crosses IPC). */
export type WorkerConfig = Omit<PoolConfig, 'protocol' | 'backoffMs' | 'maxBackoffMs'> & { protocol: 'ws' | 'socketio' };

export interface MemoryFigures { rss: number; heapUsed: number; external: number; connected: number }

export type ToWorker =
  | { type: 'start'; cfg: WorkerConfig }
  | { type: 'measure' }
  | { type: 'finish'; published: PublishedSeq[] }
  /** the message figures so far; reset: start a new window */
  | { type: 'snapshot'; reset: boolean }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; baseline: MemoryFigures }
  /** rate: connections opened per second over about the last second */
  | { type: 'progress'; counters: PoolCounters; messages: number; rate: number }
  | { type: 'memory'; memory: MemoryFigures }
  | { type: 'result'; stats: StatsSnapshot; counters: PoolCounters }
  | { type: 'snapshot'; stats: StatsSnapshot; counters: PoolCounters }
  | { type: 'fatal'; error: string };
