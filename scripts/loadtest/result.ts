// The result object of a run: everything the text, JSON and HTML reports show.
import type { Histogram } from 'hdr-histogram-js';
import type { MergedStats } from './merge-stats';
import type { LoadOptions } from './options';
import type { PublishedSeq } from './payload-tracker';

export interface TimelinePoint { tMs: number; connected: number; pending: number; errors: number; messages: number }

export interface MemoryResult {
  processes: number;
  connections: number;
  baselineRssPerProcess: number;
  /** (RSS with all connections idle - RSS before connecting) / connections, summed over processes */
  bytesPerConnection: number;
  heapBytesPerConnection: number;
}

export interface Summary { count: number; min: number; max: number; mean: number; stddev: number; p50: number; p75: number; p95: number; p98: number; p99: number; p999: number }

export interface BroadcastResult {
  seq: number;
  received: number;
  missing: number;
  /** ms from the send stamp until the first / last connection had it */
  firstMs: number | null;
  completionMs: number | null;
}

export interface LoadResult {
  startedAt: string;
  durationMs: number;
  options: LoadOptions;
  processes: number;
  connections: { target: number; connected: number; failed: number; dropped: number; timeToConnectAllMs: number | null };
  errors: Record<string, number>;
  latencyMs: Summary;
  /** [upper bound ms, count] buckets, for charts */
  latencyDistribution: [number, number][];
  handshakeMs: Summary;
  /** own: messages naming the connection's own index (--topic-template); misdelivered: naming another's */
  messages: { received: number; untracked: number; lost: number; duplicates: number; own: number; misdelivered: number; perSecond: number };
  broadcasts: BroadcastResult[];
  published: (PublishedSeq & { receivers: number | null })[];
  memory: MemoryResult | null;
  timeline: TimelinePoint[];
}

/** Histogram values are microseconds; summaries are milliseconds. */
export function summarize(h: Histogram): Summary {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p75: 0, p95: 0, p98: 0, p99: 0, p999: 0 };
  const p = (q: number): number => ms(h.getValueAtPercentile(q));
  return {
    count: h.totalCount, min: ms(h.minNonZeroValue), max: ms(h.maxValue), mean: ms(h.mean), stddev: ms(h.stdDeviation),
    p50: p(50), p75: p(75), p95: p(95), p98: p(98), p99: p(99), p999: p(99.9),
  };
}

/** ~40 log-spaced buckets between min and max. */
export function distribution(h: Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  const lo = Math.max(1, h.minNonZeroValue), hi = Math.max(lo + 1, h.maxValue);
  const steps = 40, f = Math.pow(hi / lo, 1 / steps);
  const out: [number, number][] = [];
  let prev = 0, prevCount = 0;
  for (let i = 1; i <= steps; i++) {
    const upper = i === steps ? hi : lo * Math.pow(f, i);
    const cum = h.getValueAtPercentile(100) <= upper ? h.totalCount : countBelow(h, upper);
    out.push([Math.round(upper) / 1000, cum - prevCount]);
    prevCount = cum;
    prev = upper;
  }
  void prev;
  return out;
}

function countBelow(h: Histogram, upperUs: number): number {
  // hdr-histogram-js has no cumulative-count query; binary-search the percentile.
  let a = 0, b = 100;
  for (let i = 0; i < 30; i++) {
    const m = (a + b) / 2;
    if (h.getValueAtPercentile(m) <= upperUs) a = m; else b = m;
  }
  return Math.round((a / 100) * h.totalCount);
}

export function buildResult(x: {
  opts: LoadOptions; merged: MergedStats; progress: { connected: number; failed: number; dropped: number };
  timeline: TimelinePoint[]; published: (PublishedSeq & { receivers: number | null })[]; memory: MemoryResult | null;
  connectedAllMs: number | null; startedMs: number;
}): LoadResult {
  const m = x.merged;
  const durationMs = Date.now() - x.startedMs;
  const firstT = m.seqs.find((s) => s.t)?.t;
  const lastRecv = Math.max(0, ...m.seqs.map((s) => s.lastUs));
  const window = firstT && lastRecv > firstT ? (lastRecv - firstT) / 1e6 : durationMs / 1000;
  return {
    startedAt: new Date(x.startedMs).toISOString(),
    durationMs,
    options: x.opts,
    processes: Math.ceil(x.opts.connections / x.opts.perProcess),
    connections: { target: x.opts.connections, connected: x.progress.connected, failed: m.failed, dropped: m.dropped, timeToConnectAllMs: x.connectedAllMs },
    errors: m.errors,
    latencyMs: summarize(m.latency),
    latencyDistribution: distribution(m.latency),
    handshakeMs: summarize(m.handshake),
    messages: { received: m.messages, untracked: m.untracked, lost: m.lost, duplicates: m.duplicates, own: m.userMessages, misdelivered: m.misdelivered, perSecond: Math.round(m.messages / Math.max(0.001, window)) },
    broadcasts: m.seqs.map((s) => ({
      seq: s.seq, received: s.received, missing: s.missing,
      firstMs: s.t && s.firstUs ? (s.firstUs - s.t) / 1000 : null,
      completionMs: s.t && s.lastUs ? (s.lastUs - s.t) / 1000 : null,
    })),
    published: x.published,
    memory: x.memory,
    timeline: x.timeline,
  };
}
