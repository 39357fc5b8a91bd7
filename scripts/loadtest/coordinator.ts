// Splits the connections into shares (each within the per-process file limit), runs
// each in a forked client process, aggregates their figures.
// Library entry point: new LoadTest(opts) -> start() -> waitConnected() -> publish()
// -> collect() -> stop(); the CLI (scripts/loadtest.ts) runs a whole experiment.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { StatsSnapshot } from './client-stats';
import { mergeSnapshots, type MergedStats } from './merge-stats';
import type { PoolCounters } from './connection-pool';
import { parseTarget, type LoadOptions } from './options';
import { createPublisher, type Publisher } from './publisher';
import type { PublishedSeq } from './payload-tracker';
import { forkedShare, type ShareLink } from './share-link';
import type { FromWorker, MemoryFigures, ToWorker, WorkerConfig } from './worker-messages';
import { buildResult, type LoadResult, type MemoryResult, type TimelinePoint } from './result';

export interface Progress extends Omit<PoolCounters, 'settled'> { target: number; messages: number; settled: boolean; elapsedMs: number; rate: number }

interface Child { link: ShareLink; counters: PoolCounters | null; messages: number; rate: number; baseline: MemoryFigures | null; waiters: Map<string, (m: FromWorker) => void> }

/** Heap cap per client process: the connections' own heap is ~0.3 KB each, plus histograms and slack. */
export function v8Flags(perProcess: number, maxOldSpaceMb = 0): string[] {
  const old = maxOldSpaceMb || 64 + Math.ceil(perProcess / 1000) * 2;
  return ['--expose-gc', '--max-semi-space-size=1', `--max-old-space-size=${old}`];
}

export class LoadTest extends EventEmitter {
  private children: Child[] = [];
  private publisher: Publisher | null = null;
  readonly published: (PublishedSeq & { receivers: number | null })[] = [];
  readonly timeline: TimelinePoint[] = [];
  private startedMs = 0;
  private connectedAllMs: number | null = null;
  private sampler: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  memory: MemoryResult | null = null;

  constructor(readonly opts: LoadOptions) { super(); }

  /** Starts the shares (forking client processes) and the ramp. */
  async start(): Promise<void> {
    const o = this.opts;
    const n = Math.ceil(o.connections / o.perProcess);
    const targets = o.urls.map(parseTarget);
    const caPem = o.ca ? fs.readFileSync(o.ca, 'utf8') : undefined;
    this.startedMs = Date.now();
    if (o.publishVia) this.publisher = await createPublisher(o.publishVia, o);
    const readies: Promise<FromWorker>[] = [];
    for (let w = 0; w < n; w++) {
      const count = Math.floor(o.connections / n) + (w < o.connections % n ? 1 : 0);
      const events = { onMessage: (m: FromWorker) => this.onMessage(child, m), onFailure: (e: Error) => this.fail(e) };
      const link = forkedShare(v8Flags(count, o.maxOldSpaceMb), events);
      const child: Child = { link, counters: null, messages: 0, rate: 0, baseline: null, waiters: new Map() };
      this.children.push(child);
      const cfg: WorkerConfig = {
        count, targets, sourceIps: o.sourceIps, indexOffset: w, indexStride: n,
        rate: o.rate / n, maxPending: Math.max(1, Math.ceil(o.maxPending / n)),
        connectTimeoutMs: o.connectTimeoutMs, retries: o.retries, protocol: o.protocol, topicTemplate: o.topicTemplate,
        ...(caPem ? { caPem } : {}),
      };
      readies.push(this.request(child, { type: 'start', cfg }, 'ready'));
    }
    const r = await Promise.all(readies);
    r.forEach((m, i) => { if (m.type === 'ready') this.children[i].baseline = m.baseline; });
    this.sampler = setInterval(() => this.sample(), 250);
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const c of this.children) for (const w of c.waiters.values()) w({ type: 'fatal', error: e.message });
    this.emit('failure', e);
  }

  private onMessage(child: Child, m: FromWorker): void {
    if (m.type === 'progress') { child.counters = m.counters; child.messages = m.messages; child.rate = m.rate; return; }
    if (m.type === 'fatal') { this.fail(new Error(`${child.link.label}: ${m.error}`)); return; }
    if (m.type === 'result') child.counters = m.counters;
    const w = child.waiters.get(m.type);
    if (w) { child.waiters.delete(m.type); w(m); }
  }

  private request(child: Child, msg: ToWorker, reply: FromWorker['type']): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      if (this.failure) { reject(this.failure); return; }
      child.waiters.set(reply, (m) => (m.type === 'fatal' ? reject(new Error(m.error)) : resolve(m)));
      child.link.send(msg);
    });
  }

  /** The client processes' pids (for CPU accounting). */
  get pids(): number[] {
    return this.children.map((c) => c.link.pid);
  }

  progress(): Progress {
    const p: Progress = { target: this.opts.connections, connected: 0, pending: 0, started: 0, failed: 0, dropped: 0, errors: 0, messages: 0, settled: true, elapsedMs: Date.now() - this.startedMs, rate: 0 };
    for (const c of this.children) {
      const k = c.counters;
      p.messages += c.messages;
      p.rate += c.rate;
      if (!k) { p.settled = false; continue; }
      p.connected += k.connected; p.pending += k.pending; p.started += k.started;
      p.failed += k.failed; p.dropped += k.dropped; p.errors += k.errors;
      p.settled &&= k.settled;
    }
    return p;
  }

  private sample(): void {
    const p = this.progress();
    if (this.connectedAllMs === null && p.connected >= this.opts.connections) this.connectedAllMs = p.elapsedMs;
    this.timeline.push({ tMs: p.elapsedMs, connected: p.connected, pending: p.pending, errors: p.errors, messages: p.messages });
    this.emit('progress', p);
  }

  /** Resolves when `n` connections are open, or all attempts settled, or timeoutMs passed, or `signal` aborted. */
  async waitConnected(n = this.opts.connections, timeoutMs = 600_000, signal?: AbortSignal): Promise<Progress> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const p = this.progress();
      if (p.connected >= n || (p.settled && p.started >= this.opts.connections) || Date.now() > until || signal?.aborted) return p;
      await sleep(50);
    }
  }

  /** Reads every client process's RSS with all connections idle: bytes per connection. */
  async measureMemory(): Promise<MemoryResult> {
    const ms = await Promise.all(this.children.map((c) => this.request(c, { type: 'measure' }, 'memory')));
    let rss = 0, heap = 0, conns = 0, base = 0;
    ms.forEach((m, i) => {
      if (m.type !== 'memory') return;
      const b = this.children[i].baseline!;
      rss += m.memory.rss - b.rss; heap += m.memory.heapUsed - b.heapUsed; conns += m.memory.connected; base += b.rss;
    });
    this.memory = {
      processes: this.children.length, connections: conns,
      baselineRssPerProcess: Math.round(base / this.children.length),
      bytesPerConnection: conns ? Math.round(rss / conns) : 0,
      heapBytesPerConnection: conns ? Math.round(heap / conns) : 0,
    };
    return this.memory;
  }

  /** Publishes broadcast `seq` through --publish-via. */
  async publish(seq = this.published.length + 1): Promise<PublishedSeq & { receivers: number | null }> {
    if (!this.publisher) throw new Error('no --publish-via given');
    const p = await this.publisher.publish(seq);
    this.published.push(p);
    return p;
  }

  /** Every process's message figures so far, merged; `reset` starts a new window (for runs measured in steps). */
  async snapshot(reset = false): Promise<MergedStats> {
    if (this.failure) throw this.failure;
    const rs = await Promise.all(this.children.map((c) => this.request(c, { type: 'snapshot', reset }, 'snapshot')));
    return mergeSnapshots(rs.map((m) => (m as { stats: StatsSnapshot }).stats));
  }

  /** Gathers every process's figures (counting published seqs never received). */
  async collect(): Promise<LoadResult> {
    if (this.failure) throw this.failure;
    const published = this.published.map(({ seq, t }) => ({ seq, t }));
    const rs = await Promise.all(this.children.map((c) => this.request(c, { type: 'finish', published }, 'result')));
    const snaps = rs.map((m) => (m as { stats: StatsSnapshot }).stats);
    this.sample();
    return buildResult({
      opts: this.opts, merged: mergeSnapshots(snaps), progress: this.progress(), timeline: this.timeline,
      published: this.published, memory: this.memory, connectedAllMs: this.connectedAllMs, startedMs: this.startedMs,
    });
  }

  /** Stops every share (client processes get SIGKILL after a grace period) and the publisher. */
  async stop(): Promise<void> {
    if (this.sampler) { clearInterval(this.sampler); this.sampler = null; }
    await Promise.all(this.children.map((c) => c.link.stop(3000)));
    const pub = this.publisher;
    this.publisher = null;
    if (pub) await pub.close();
  }

  /** Synchronous last resort (process 'exit'): kill whatever is still running. */
  killNow(): void {
    for (const c of this.children) c.link.killNow();
  }
}

/** Waits ms, or less when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
