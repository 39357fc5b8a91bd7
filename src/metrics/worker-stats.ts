import type { BrokerState } from '../broker/broker';

/** Upper bounds (microseconds) of the fan-out duration histogram; one more bucket counts everything above. */
export const FANOUT_BUCKETS_MICROS = [10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000, 500_000, 1_000_000] as const;

/** Counters one worker keeps and reports to the primary. Plain numbers: the fan-out path only increments. */
export interface WorkerStats {
  pid: number;
  workerId: number;
  connections: number;
  capacity: number;
  accepting: boolean;
  upgradesAccepted: number;
  upgradesRefused: Record<string, number>;
  /** Messages this worker received from the broker: one per publish that reached this worker, however many sockets got it. */
  messagesReceived: number;
  /** Deliveries to sockets: sum over those messages of the sockets each was handed to. */
  messagesDelivered: number;
  /** Connections closed, by close code (1000, 1001, 1006, 4000, ...). */
  connectionsClosed: Record<string, number>;
  slowConsumerCloses: number;
  /** Connections over the send-buffer limit at the last sweep (the ones uWS skips under the "skip" policy). */
  slowConsumersNow: number;
  clientFloodCloses: number;
  oversizedFrameCloses: number;
  /** Connections closed with 4501 because their token expired. */
  tokenExpiryCloses: number;
  /** Commands run (subscribe, unsubscribe, refresh), whatever their answer. */
  commandsRun: number;
  /** Frames of envelope connections refused before running: malformed, or over the command budget. */
  commandsRefused: number;
  commandsRateLimited: number;
  lastFanoutMicros: number;
  maxFanoutMicros: number;
  /** Fan-out durations per FANOUT_BUCKETS_MICROS bound (not cumulative; last slot is +Inf). Plain numbers so they cross IPC. */
  fanoutBuckets: number[];
  fanoutMicrosSum: number;
  brokerState: BrokerState;
  brokerReconnects: number;
  /** Times a topic's seq went back on the live stream (Redis lost acknowledged writes); envelope clients got a gap. */
  seqRewinds: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export function newWorkerStats(workerId: number): WorkerStats {
  return {
    pid: process.pid,
    workerId,
    connections: 0,
    capacity: 0,
    accepting: false,
    upgradesAccepted: 0,
    upgradesRefused: {},
    messagesReceived: 0,
    messagesDelivered: 0,
    connectionsClosed: {},
    slowConsumerCloses: 0,
    slowConsumersNow: 0,
    clientFloodCloses: 0,
    oversizedFrameCloses: 0,
    tokenExpiryCloses: 0,
    commandsRun: 0,
    commandsRefused: 0,
    commandsRateLimited: 0,
    lastFanoutMicros: 0,
    maxFanoutMicros: 0,
    fanoutBuckets: new Array<number>(FANOUT_BUCKETS_MICROS.length + 1).fill(0),
    fanoutMicrosSum: 0,
    brokerState: 'connecting',
    brokerReconnects: 0,
    seqRewinds: 0,
    rssBytes: 0,
    heapUsedBytes: 0,
  };
}

export function countRefusal(stats: WorkerStats, reason: string): void {
  stats.upgradesRefused[reason] = (stats.upgradesRefused[reason] ?? 0) + 1;
}

export function countClose(stats: WorkerStats, code: number): void {
  stats.connectionsClosed[code] = (stats.connectionsClosed[code] ?? 0) + 1;
}

/** Counts one fan-out in the duration histogram: a short scan over 11 bounds, once per message, never per socket. */
export function recordFanout(stats: WorkerStats, micros: number): void {
  let i = 0;
  while (i < FANOUT_BUCKETS_MICROS.length && micros > FANOUT_BUCKETS_MICROS[i]) i++;
  stats.fanoutBuckets[i]++;
  stats.fanoutMicrosSum += micros;
}

/** One worker slot as the primary sees it, with the worker's latest counters when it answered. */
export interface WorkerSnapshot {
  id: number;
  pid?: number;
  up: boolean;
  stats?: WorkerStats;
}
