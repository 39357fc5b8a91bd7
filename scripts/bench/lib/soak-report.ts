/**
 * The soak benchmark's result record, its verdict and its markdown summary.
 * Figures are printed as measured (truncated, never rounded up).
 */
import type { Machine } from './c1m-report';
import type { ChurnCounts } from './soak-client';

export interface WorkerSample {
  pid: number;
  /** VmRSS from /proc */
  rssBytes: number;
  /** V8 heap in use, as the worker reports it in /stats */
  heapUsedBytes: number;
  /** open file descriptors (/proc/<pid>/fd) */
  fds: number;
}

export interface Sample {
  /** seconds since the churn started */
  t: number;
  churned: number;
  connections: number;
  workers: WorkerSample[];
}

export interface SoakResult {
  command: string;
  date: string;
  machine: Machine;
  ok: boolean;
  failure: string | null;
  options: Record<string, unknown>;
  herald: { workers: number; command: string } | null;
  stayers: { wanted: number; connected: number; openAtEnd: number; closes: Record<string, number> };
  churn: ChurnCounts | null;
  /** `lost` counts stayer copies missing outside the resubscribe window (a failure); the window's are counted apart. */
  broadcasts: { published: number; refused: number; lost: number; stayersMissing: number; lostSeqs: number[]; inResubscribeWindow: number; lostInResubscribeWindow: number };
  redisRestart: { atChurned: number; downMs: number; healthUnhealthyAfterMs: number | null; healthyAgainAfterMs: number | null } | null;
  /** cold: stayers connected, nothing churned yet (shown, not judged); start: after the warm-up churn, settled */
  marks: { cold?: Sample | null; start: Sample | null; middle: Sample | null; end: Sample | null };
  series: Sample[];
  durationMs: number;
}

const MB = 1048576;
const mb = (b: number): string => `${(Math.trunc((b / MB) * 10) / 10).toFixed(1)} MB`;
const int = (x: number): string => Math.trunc(x).toLocaleString('en-US');
const signedMb = (b: number): string => `${b < 0 ? '-' : '+'}${mb(Math.abs(b))}`;

/** Per worker: end minus start, for RSS, heap and descriptors. */
export function growth(r: SoakResult): { pid: number; rss: number; heap: number; fds: number }[] {
  const { start, end } = r.marks;
  if (!start || !end) return [];
  return start.workers.map((w, i) => ({ pid: w.pid, rss: end.workers[i].rssBytes - w.rssBytes, heap: end.workers[i].heapUsedBytes - w.heapUsedBytes, fds: end.workers[i].fds - w.fds }));
}

/**
 * Per worker: the lowest RSS sampled in the last quarter of the churn minus the lowest in the
 * second quarter. Under churn the V8 heap saws up and down between major collections (several
 * MB per worker), so two single samples compare points on that saw; its troughs rise only if
 * memory grows with the connections churned.
 */
export function churnGrowth(r: SoakResult, total: number): { pid: number; rss: number; fromChurned: number; toChurned: number }[] {
  const lowest = (from: number, to: number) => {
    const window = r.series.filter((s) => s.churned >= from * total && s.churned < to * total && s !== r.marks.start);
    return window.length ? r.series[0].workers.map((_, i) => window.reduce((low, s) => (s.workers[i].rssBytes < low.workers[i].rssBytes ? s : low))) : undefined;
  };
  const [early, late] = [lowest(0.25, 0.5), lowest(0.75, 1)];
  if (!early || !late) return [];
  return early.map((s, i) => ({ pid: s.workers[i].pid, rss: late[i].workers[i].rssBytes - s.workers[i].rssBytes, fromChurned: s.churned, toChurned: late[i].churned }));
}

/** Everything that makes the run a failure; empty for a pass. */
export function verdict(r: SoakResult, rssToleranceBytes: number, total: number): string[] {
  const problems: string[] = [];
  const c = r.churn;
  if (!c) return ['churn did not run'];
  const failed = Object.values(c.failed).reduce((a, b) => a + b, 0);
  const dropped = Object.values(c.droppedEarly).reduce((a, b) => a + b, 0);
  if (failed > 0) problems.push(`${failed} churned connections failed (${JSON.stringify(c.failed)})`);
  if (dropped > 0) problems.push(`${dropped} churned connections dropped before their broadcasts (${JSON.stringify(c.droppedEarly)})`);
  if (r.stayers.connected < r.stayers.wanted) problems.push(`${r.stayers.connected} of ${r.stayers.wanted} stayers connected`);
  if (r.stayers.openAtEnd < r.stayers.connected) problems.push(`${r.stayers.connected - r.stayers.openAtEnd} stayers closed (${JSON.stringify(r.stayers.closes)})`);
  if (r.broadcasts.lost > 0) problems.push(`${r.broadcasts.lost} broadcasts lost by ${r.broadcasts.stayersMissing} stayers`);
  for (const g of growth(r)) {
    if (g.rss > rssToleranceBytes) problems.push(`worker ${g.pid}: RSS ${signedMb(g.rss)} from start to end (tolerance ${mb(rssToleranceBytes)})`);
    if (g.fds !== 0) problems.push(`worker ${g.pid}: ${g.fds > 0 ? '+' : ''}${g.fds} file descriptors from start to end`);
  }
  for (const g of churnGrowth(r, total)) {
    if (g.rss > rssToleranceBytes) problems.push(`worker ${g.pid}: lowest RSS ${signedMb(g.rss)} from the second quarter of the churn (${int(g.fromChurned)} churned) to the last (${int(g.toChurned)}): grows with the churn`);
  }
  const pids = (s: Sample | null) => s?.workers.map((w) => w.pid).join(',');
  if (r.marks.start && r.marks.end && pids(r.marks.start) !== pids(r.marks.end)) problems.push('a worker was replaced during the run');
  return problems;
}

export function markdown(r: SoakResult): string {
  const out: string[] = [];
  const m = r.machine;
  const warmup = Number(r.options.warmup ?? 0);
  out.push(`# Soak benchmark: ${int((r.churn?.opened ?? 0) - warmup)} connections churned${warmup ? ` after a warm-up of ${int(warmup)}` : ''}`, '');
  out.push(`- Result: **${r.ok ? 'PASS' : 'FAIL'}**${r.failure ? ` — ${r.failure}` : ''}`);
  out.push(`- Date: ${r.date}; run took ${(r.durationMs / 60000).toFixed(1)} min`);
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Machine: ${m.nproc} CPUs (${m.cpu}), ${mb(m.memTotalBytes)} RAM, Linux ${m.kernel}, Node ${m.node}`);
  if (r.herald) out.push(`- Herald: ${r.herald.workers} workers, \`${r.herald.command}\``);
  out.push('', '## Churn and broadcasts', '');
  const c = r.churn;
  if (c) {
    out.push(`- Churned: opened ${int(c.opened)} (warm-up included), completed ${int(c.completed)} (each got ${String(r.options.messages)} broadcasts, then closed with 1000), failed ${JSON.stringify(c.failed)}, dropped early ${JSON.stringify(c.droppedEarly)}`);
  }
  out.push(`- Stayers: ${int(r.stayers.connected)} of ${int(r.stayers.wanted)} connected, ${int(r.stayers.openAtEnd)} still open at the end${Object.keys(r.stayers.closes).length ? `, closes ${JSON.stringify(r.stayers.closes)}` : ''}`);
  const b = r.broadcasts;
  out.push(`- Broadcasts: ${int(b.published)} accepted by Redis, ${int(b.refused)} refused while Redis was down; lost by stayers: ${int(b.lost)}${b.lost ? ` (${b.stayersMissing} stayers; seqs ${b.lostSeqs.join(', ')})` : ''}`);
  out.push(`- Of those, ${int(b.inResubscribeWindow)} were accepted between Redis's return and every worker's resubscription (plus 500 ms), where a miss is documented behaviour: stayer copies missed there ${int(b.lostInResubscribeWindow)}`);
  const rr = r.redisRestart;
  if (rr) {
    out.push(`- Redis restarted after ${int(rr.atChurned)} churned: down ${int(rr.downMs)} ms; /health 503 after ${rr.healthUnhealthyAfterMs ?? 'n/a'} ms, 200 again ${rr.healthyAgainAfterMs ?? 'n/a'} ms after Redis was back`);
  }
  out.push('', '## Memory and descriptors per worker', '');
  out.push('| worker | mark | churned | RSS | V8 heap used | fds |', '|---|---|---|---|---|---|');
  for (const [name, s] of Object.entries(r.marks)) {
    if (!s) continue;
    for (const w of s.workers) out.push(`| ${w.pid} | ${name} | ${int(s.churned)} | ${mb(w.rssBytes)} | ${mb(w.heapUsedBytes)} | ${w.fds} |`);
  }
  out.push('');
  for (const g of growth(r)) out.push(`- Worker ${g.pid}, end minus start: RSS ${signedMb(g.rss)}, heap ${signedMb(g.heap)}, fds ${g.fds}`);
  for (const g of churnGrowth(r, Number(r.options.total))) out.push(`- Worker ${g.pid}, during the churn: lowest RSS in the last quarter minus lowest in the second (at ${int(g.fromChurned)} and ${int(g.toChurned)} churned): ${signedMb(g.rss)}`);
  const peak = r.series.reduce((max, s) => Math.max(max, ...s.workers.map((w) => w.rssBytes)), 0);
  out.push(`- Highest worker RSS in any sample: ${mb(peak)} (${r.series.length} samples, every ${String(r.options.sampleSeconds)} s, in the JSON file)`);
  const settle = `${String(r.options.settleS ?? 15)} s without churn`;
  out.push('', `Cold: stayers connected, nothing churned yet (shown for reference; a fresh worker still compiles code and sizes its heap and pools). Start: after the warm-up churn and ${settle}. Middle: just before Redis was restarted. End: churn over, every churned connection closed, after ${settle}. The verdict compares end with start.`, '');
  return out.join('\n');
}
