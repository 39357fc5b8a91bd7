/**
 * The C1M benchmark's result record and its short markdown summary. Figures
 * are printed as measured (integers truncated, never rounded up).
 */
import os from 'node:os';
import type { Preflight, SysctlChange } from './kernel-check';
import type { ProcMemory, Sockstat } from './proc-stats';
import { formatCpu, type CpuFigures } from './cpu-window';
import { formatScheduling, type Scheduling } from './scheduling';

export interface Machine { nproc: number; memTotalBytes: number; kernel: string; node: string; cpu: string }

export function machine(): Machine {
  return { nproc: os.cpus().length, memTotalBytes: os.totalmem(), kernel: os.release(), node: process.version, cpu: os.cpus()[0]?.model ?? '' };
}

export interface SystemSample { memAvailableBytes: number; slabBytes: number; sUnreclaimBytes: number; sockstat: Sockstat }

export interface BroadcastFigure { seq: number; received: number; missing: number; completionMs: number | null; firstMs: number | null }

export interface C1mResult {
  command: string;
  date: string;
  machine: Machine;
  ok: boolean;
  /** why the run failed or stopped short, when it did */
  failure: string | null;
  options: Record<string, unknown>;
  preflight: Preflight;
  sysctlChanges: SysctlChange[];
  /** how herald and the clients were scheduled (null: not recorded, e.g. stopped before) */
  scheduling: Scheduling | null;
  herald: { workers: number; command: string; env: Record<string, string> } | null;
  connections: { target: number; connected: number; heraldCounted: number | null; failed: number; errors: Record<string, number>; timeToConnectAllMs: number | null; rampMs: number | null };
  serverMemory: { before: ProcMemory; after: ProcMemory; primary: ProcMemory | null; perConnection: { rss: number; pss: number; uss: number } | null; idleWorker: { rss: number; pss: number; uss: number } } | null;
  clientMemory: { processes: number; before: ProcMemory | null; after: ProcMemory | null; bytesPerConnection: number | null; heapBytesPerConnection: number | null; baselineRssPerProcess: number | null } | null;
  kernel: { before: SystemSample; after: SystemSample | null; slabPerConnection: number | null; sUnreclaimPerConnection: number | null; tcpMemPagesAfter: number | null } | null;
  broadcasts: BroadcastFigure[];
  /** CPU seconds by process group and machine state, over the ramp and over each broadcast window */
  cpu: { ramp: CpuFigures; broadcasts: CpuFigures[] } | null;
  latencyMs: Record<string, number> | null;
  messages: { received: number; lost: number; duplicates: number } | null;
  durationMs: number;
}

const MB = 1048576;
const mb = (b: number | null | undefined): string => (b == null ? 'n/a' : `${(Math.trunc((b / MB) * 10) / 10).toFixed(1)} MB`);
const int = (x: number | null | undefined): string => (x == null ? 'n/a' : Math.trunc(x).toLocaleString('en-US'));

export function markdown(r: C1mResult): string {
  const m = r.machine;
  const c = r.connections;
  const out: string[] = [];
  out.push(`# C1M benchmark: ${int(c.target)} connections`, '');
  out.push(`- Result: **${r.ok ? 'PASS' : 'FAIL'}**${r.failure ? ` — ${r.failure}` : ''}`);
  out.push(`- Date: ${r.date}`);
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Machine: ${m.nproc} CPUs (${m.cpu}), ${mb(m.memTotalBytes)} RAM, Linux ${m.kernel}, Node ${m.node}`);
  if (r.scheduling) out.push(`- ${formatScheduling(r.scheduling)}`);
  if (r.herald) out.push(`- Herald: ${r.herald.workers} workers, \`${r.herald.command}\``);
  if (r.sysctlChanges.length) out.push(`- Sysctls raised for the run: ${r.sysctlChanges.map((s) => `${s.name} ${s.from} -> ${s.to}`).join('; ')}`);
  out.push('', '## Connections', '');
  out.push(`| target | held (client) | held (herald /stats) | failed | errors | time to connect all |`, `|---|---|---|---|---|---|`);
  const errs = Object.entries(c.errors).map(([k, v]) => `${k}: ${v}`).join(', ') || '0';
  out.push(`| ${int(c.target)} | ${int(c.connected)} | ${int(c.heraldCounted)} | ${int(c.failed)} | ${errs} | ${c.timeToConnectAllMs == null ? `not reached (ramp ${int(c.rampMs)} ms)` : `${(c.timeToConnectAllMs / 1000).toFixed(1)} s`} |`);
  out.push('', '## Broadcasts (one stamp per broadcast, taken before PUBLISH)', '');
  out.push('| seq | received | missing | first copy | completion (last copy) |', '|---|---|---|---|---|');
  for (const b of r.broadcasts) out.push(`| ${b.seq} | ${int(b.received)} | ${int(b.missing)} | ${b.firstMs == null ? 'n/a' : `${b.firstMs} ms`} | ${b.completionMs == null ? 'n/a' : `${b.completionMs} ms`} |`);
  if (r.latencyMs) {
    const l = r.latencyMs;
    out.push('', `Latency over all copies (ms): count ${int(l.count)}, min ${l.min}, mean ${l.mean}, stddev ${l.stddev}, p50 ${l.p50}, p75 ${l.p75}, p95 ${l.p95}, p98 ${l.p98}, p99 ${l.p99}, p99.9 ${l.p999}, max ${l.max}`);
  }
  if (r.messages) out.push('', `Messages received ${int(r.messages.received)}, lost ${int(r.messages.lost)}, duplicates ${int(r.messages.duplicates)}`);
  out.push('', '## Memory', '');
  const s = r.serverMemory;
  if (s) {
    out.push(`| | processes | RSS | PSS | USS |`, `|---|---|---|---|---|`);
    out.push(`| herald workers, idle | ${s.before.processes} | ${mb(s.before.rssBytes)} | ${mb(s.before.pssBytes)} | ${mb(s.before.ussBytes)} |`);
    out.push(`| herald workers, all connected | ${s.after.processes} | ${mb(s.after.rssBytes)} | ${mb(s.after.pssBytes)} | ${mb(s.after.ussBytes)} |`);
    if (s.primary) out.push(`| herald primary | 1 | ${mb(s.primary.rssBytes)} | ${mb(s.primary.pssBytes)} | ${mb(s.primary.ussBytes)} |`);
    const cm = r.clientMemory;
    if (cm?.before) out.push(`| load client processes, before ramp | ${cm.before.processes} | ${mb(cm.before.rssBytes)} | ${mb(cm.before.pssBytes)} | ${mb(cm.before.ussBytes)} |`);
    if (cm?.after) out.push(`| load client processes, all connected | ${cm.after.processes} | ${mb(cm.after.rssBytes)} | ${mb(cm.after.pssBytes)} | ${mb(cm.after.ussBytes)} |`);
    out.push('');
    out.push(`- One idle herald worker: RSS ${mb(s.idleWorker.rss)}, PSS ${mb(s.idleWorker.pss)}, USS ${mb(s.idleWorker.uss)}`);
    if (s.perConnection) out.push(`- Herald user space per connection (after - before, workers): RSS ${int(s.perConnection.rss)} B, PSS ${int(s.perConnection.pss)} B, USS ${int(s.perConnection.uss)} B`);
    if (cm) out.push(`- Load client per connection (RSS growth, after GC): ${int(cm.bytesPerConnection)} B (V8 heap ${int(cm.heapBytesPerConnection)} B); baseline RSS per client process ${mb(cm.baselineRssPerProcess)}`);
  }
  const k = r.kernel;
  if (k) {
    out.push(`- Kernel: Slab ${mb(k.before.slabBytes)} -> ${mb(k.after?.slabBytes)}, SUnreclaim ${mb(k.before.sUnreclaimBytes)} -> ${mb(k.after?.sUnreclaimBytes)}; per connection (two sockets) Slab ${int(k.slabPerConnection)} B, SUnreclaim ${int(k.sUnreclaimPerConnection)} B`);
    out.push(`- /proc/net/sockstat TCP: inuse ${int(k.before.sockstat.tcpInuse)} -> ${int(k.after?.sockstat.tcpInuse)}, mem ${int(k.before.sockstat.tcpMemPages)} -> ${int(k.after?.sockstat.tcpMemPages)} pages; MemAvailable ${mb(k.before.memAvailableBytes)} -> ${mb(k.after?.memAvailableBytes)}`);
  }
  if (r.cpu) {
    out.push('', '## CPU (seconds, both cores together)', '');
    out.push(`- Ramp: ${formatCpu(r.cpu.ramp)} (client processes are forked inside this window: their share is in the machine totals)`);
    r.cpu.broadcasts.forEach((c, i) => out.push(`- Broadcast ${i + 1} (publish until every copy was seen): ${formatCpu(c)}`));
  }
  out.push('', `Full figures: the JSON file of the same run. Run took ${(r.durationMs / 1000).toFixed(1)} s.`, '');
  return out.join('\n');
}
