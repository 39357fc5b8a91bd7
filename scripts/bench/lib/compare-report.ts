/**
 * Turns the comparison's runs into what people read: a plain-text table with
 * ratios (herald / peer), the issue's targets checked, a self-contained SVG
 * chart (no scripts, no CDN) and a markdown summary.
 *
 * Repetitions are folded into the median of each figure, per server and N: the
 * harness alternates servers between repetitions, so the median is the figure
 * that drift and one-off hiccups move least.
 */
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import type { RunResult } from './compare-scenario';
import { SERVER_NAMES, type ServerName } from './server-runner';

export interface Aggregate {
  server: ServerName;
  n: number;
  reps: number;
  okReps: number;
  failures: string[];
  processes: number;
  connected: number | null;
  connectRate: number | null;
  rssBeforeMiB: number | null;
  rssAfterMiB: number | null;
  rssPerConnKiB: number | null;
  ussPerConnKiB: number | null;
  serverCpuUsPerMsg: number | null;
  clientCpuUsPerMsg: number | null;
  completionMedianMs: number | null;
  completionMaxMs: number | null;
  latP50: number | null;
  latP99: number | null;
  latMax: number | null;
  lost: number;
  errors: number;
}

function med(xs: (number | null | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

export function aggregate(runs: RunResult[]): Aggregate[] {
  const out: Aggregate[] = [];
  const ns = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b);
  for (const n of ns) {
    for (const server of SERVER_NAMES) {
      const rs = runs.filter((r) => r.n === n && r.server === server);
      if (!rs.length) continue;
      out.push({
        server, n, reps: rs.length, okReps: rs.filter((r) => r.ok).length,
        failures: rs.map((r) => r.failure).filter((f): f is string => !!f),
        processes: rs[0].processes,
        connected: med(rs.map((r) => r.connected)),
        connectRate: med(rs.map((r) => r.connectRate)),
        rssBeforeMiB: med(rs.map((r) => r.memory && r.memory.rssBefore / 2 ** 20)),
        rssAfterMiB: med(rs.map((r) => r.memory && r.memory.rssAfterIdle / 2 ** 20)),
        rssPerConnKiB: med(rs.map((r) => r.memory?.rssPerConn != null ? r.memory.rssPerConn / 1024 : null)),
        ussPerConnKiB: med(rs.map((r) => r.memory?.ussPerConn != null ? r.memory.ussPerConn / 1024 : null)),
        serverCpuUsPerMsg: med(rs.map((r) => r.serverCpuUsPerMsg)),
        clientCpuUsPerMsg: med(rs.map((r) => r.clientCpuUsPerMsg)),
        completionMedianMs: med(rs.map((r) => r.completionMedianMs)),
        completionMaxMs: med(rs.map((r) => r.completionMaxMs)),
        latP50: med(rs.map((r) => r.latencyMs?.p50)),
        latP99: med(rs.map((r) => r.latencyMs?.p99)),
        latMax: med(rs.map((r) => r.latencyMs?.max)),
        lost: rs.reduce((s, r) => s + r.lost, 0),
        errors: rs.reduce((s, r) => s + r.failed + r.dropped + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
      });
    }
  }
  return out;
}

const f = (x: number | null, d = 1): string => (x === null ? '-' : x.toFixed(d));
const fi = (x: number | null): string => (x === null ? '-' : Math.round(x).toLocaleString('en-US'));

const COLUMNS: [string, (a: Aggregate) => string][] = [
  ['N', (a) => a.n.toLocaleString('en-US')],
  ['server', (a) => a.server],
  ['procs', (a) => String(a.processes)],
  ['connected', (a) => fi(a.connected)],
  ['conn/s', (a) => fi(a.connectRate)],
  ['RSS0 MiB', (a) => f(a.rssBeforeMiB, 0)],
  ['RSS MiB', (a) => f(a.rssAfterMiB, 0)],
  ['RSS/conn KiB', (a) => f(a.rssPerConnKiB, 2)],
  ['USS/conn KiB', (a) => f(a.ussPerConnKiB, 2)],
  ['srv CPU us/msg', (a) => f(a.serverCpuUsPerMsg, 2)],
  ['cli CPU us/msg', (a) => f(a.clientCpuUsPerMsg, 2)],
  ['compl med ms', (a) => f(a.completionMedianMs)],
  ['compl max ms', (a) => f(a.completionMaxMs)],
  ['lat p50', (a) => f(a.latP50)],
  ['lat p99', (a) => f(a.latP99)],
  ['lat max', (a) => f(a.latMax)],
  ['lost', (a) => String(a.lost)],
  ['errors', (a) => String(a.errors)],
  ['ok', (a) => `${a.okReps}/${a.reps}`],
];

function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function figuresRows(aggs: Aggregate[]): { header: string[]; rows: string[][] } {
  return { header: COLUMNS.map((c) => c[0]), rows: aggs.map((a) => COLUMNS.map((c) => c[1](a))) };
}

export interface Ratio {
  n: number;
  herald: ServerName;
  peer: ServerName;
  /** herald / peer: below 1 is better for herald in memory and completion, above 1 in connect rate. */
  memory: number | null;
  completion: number | null;
  connectRate: number | null;
  cpuPerMsg: number | null;
}

const div = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

export function ratios(aggs: Aggregate[]): Ratio[] {
  const out: Ratio[] = [];
  for (const n of [...new Set(aggs.map((a) => a.n))]) {
    for (const herald of ['herald', 'herald-local'] as const) {
      const h = aggs.find((a) => a.n === n && a.server === herald);
      if (!h) continue;
      for (const p of aggs.filter((a) => a.n === n && a.server !== 'herald' && a.server !== 'herald-local')) {
        out.push({
          n, herald, peer: p.server,
          memory: div(h.rssPerConnKiB, p.rssPerConnKiB),
          completion: div(h.completionMedianMs, p.completionMedianMs),
          connectRate: div(h.connectRate, p.connectRate),
          cpuPerMsg: div(h.serverCpuUsPerMsg, p.serverCpuUsPerMsg),
        });
      }
    }
  }
  return out;
}

function ratioRows(rs: Ratio[]): { header: string[]; rows: string[][] } {
  return {
    header: ['N', 'herald / peer', 'RSS/conn', 'completion', 'conn/s', 'CPU/msg'],
    rows: rs.map((r) => [r.n.toLocaleString('en-US'), `${r.herald} / ${r.peer}`, f(r.memory, 2), f(r.completion, 2), f(r.connectRate, 2), f(r.cpuPerMsg, 2)]),
  };
}

export interface TargetCheck {
  n: number;
  target: string;
  value: string;
  met: boolean | null;
}

/** The issue's targets for herald (Redis broker), checked at every N measured (the issue states them at 100k). */
export function checkTargets(aggs: Aggregate[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const n of [...new Set(aggs.map((a) => a.n))]) {
    const get = (s: ServerName) => aggs.find((a) => a.n === n && a.server === s);
    const h = get('herald');
    if (!h) continue;
    const add = (target: string, x: number | null, ok: (x: number) => boolean, unit = 'x') =>
      out.push({ n, target, value: x === null ? 'n/a' : `${x.toFixed(2)}${unit}`, met: x === null ? null : ok(x) });
    const bare = get('uws-bare');
    if (bare) {
      add('memory/conn within 10% of bare uWS (herald/bare <= 1.10)', div(h.rssPerConnKiB, bare.rssPerConnKiB), (x) => x <= 1.1);
      add('completion within 10% of bare uWS (herald/bare <= 1.10)', div(h.completionMedianMs, bare.completionMedianMs), (x) => x <= 1.1);
    }
    for (const peer of ['ws', 'socketio', 'netty'] as const) {
      const p = get(peer);
      if (p) add(`memory/conn >= 5x less than ${peer} (peer/herald >= 5)`, div(p.rssPerConnKiB, h.rssPerConnKiB), (x) => x >= 5);
    }
    const ws = get('ws'), netty = get('netty');
    if (ws) add('completion >= 1.3x faster than ws (ws/herald)', div(ws.completionMedianMs, h.completionMedianMs), (x) => x >= 1.3);
    if (netty) add('completion >= 2x faster than Netty (netty/herald)', div(netty.completionMedianMs, h.completionMedianMs), (x) => x >= 2);
    if (ws) add('connect rate >= 5x ws (herald/ws)', div(h.connectRate, ws.connectRate), (x) => x >= 5);
    if (netty) add('connect rate >= 5x Netty (herald/netty)', div(h.connectRate, netty.connectRate), (x) => x >= 5);
  }
  return out;
}

export function textReport(aggs: Aggregate[]): string {
  const fig = figuresRows(aggs);
  const rat = ratioRows(ratios(aggs));
  const tg = checkTargets(aggs);
  const parts = [textTable(fig.header, fig.rows), '', 'ratios (herald / peer; memory & completion: lower is better for herald, conn/s: higher):', textTable(rat.header, rat.rows)];
  if (tg.length) {
    parts.push('', 'targets (herald, Redis broker):');
    for (const t of tg) parts.push(`  N=${t.n.toLocaleString('en-US')}  ${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'}  ${t.target}: ${t.value}`);
  }
  const fails = aggs.filter((a) => a.failures.length);
  if (fails.length) {
    parts.push('', 'failures:');
    for (const a of fails) for (const m of a.failures) parts.push(`  ${a.server} N=${a.n}: ${m}`);
  }
  return parts.join('\n');
}

// ---- chart ---------------------------------------------------------------

const COLORS: Record<ServerName, string> = {
  herald: '#d62728', 'herald-local': '#ff9896', 'uws-bare': '#7f7f7f', ws: '#1f77b4', socketio: '#9467bd', netty: '#2ca02c',
};

const METRICS: { key: keyof Aggregate; title: string; unit: string }[] = [
  { key: 'rssPerConnKiB', title: 'Server RSS per idle connection', unit: 'KiB (lower is better)' },
  { key: 'completionMedianMs', title: 'Broadcast completion (median of broadcasts)', unit: 'ms (lower is better)' },
  { key: 'connectRate', title: 'Connect rate', unit: 'connections/s (higher is better)' },
  { key: 'serverCpuUsPerMsg', title: 'Server CPU per delivered message', unit: 'us (lower is better)' },
];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Grouped bars, one panel per metric, one group per N, one bar per server. Plain SVG. */
export function svgChart(aggs: Aggregate[], title: string): string {
  const ns = [...new Set(aggs.map((a) => a.n))].sort((a, b) => a - b);
  const servers = SERVER_NAMES.filter((s) => aggs.some((a) => a.server === s));
  const W = 520, H = 260, pad = { l: 60, r: 10, t: 40, b: 40 }, cols = 2;
  const panels = METRICS.map((m, i) => {
    const x0 = (i % cols) * W, y0 = 40 + Math.floor(i / cols) * H;
    const vals = aggs.map((a) => a[m.key] as number | null).filter((v): v is number => v !== null);
    const max = Math.max(1e-9, ...vals) * 1.1;
    const plotW = W - pad.l - pad.r, plotH = H - pad.t - pad.b;
    const gw = plotW / ns.length, bw = (gw * 0.8) / servers.length;
    const els: string[] = [
      `<text x="${x0 + pad.l}" y="${y0 + 18}" font-weight="bold">${esc(m.title)}</text>`,
      `<text x="${x0 + pad.l}" y="${y0 + 32}" font-size="10" fill="#555">${esc(m.unit)}</text>`,
      `<line x1="${x0 + pad.l}" y1="${y0 + pad.t + plotH}" x2="${x0 + W - pad.r}" y2="${y0 + pad.t + plotH}" stroke="#333"/>`,
    ];
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4, y = y0 + pad.t + plotH - (plotH * k) / 4;
      els.push(`<text x="${x0 + pad.l - 4}" y="${y + 3}" font-size="9" text-anchor="end">${v >= 100 ? Math.round(v) : v.toFixed(1)}</text>`);
      els.push(`<line x1="${x0 + pad.l}" y1="${y}" x2="${x0 + W - pad.r}" y2="${y}" stroke="#eee"/>`);
    }
    ns.forEach((n, gi) => {
      const gx = x0 + pad.l + gi * gw + gw * 0.1;
      els.push(`<text x="${gx + gw * 0.4}" y="${y0 + pad.t + plotH + 14}" font-size="10" text-anchor="middle">N=${n.toLocaleString('en-US')}</text>`);
      servers.forEach((s, si) => {
        const a = aggs.find((x) => x.n === n && x.server === s);
        const v = a ? (a[m.key] as number | null) : null;
        const x = gx + si * bw;
        if (v === null) {
          els.push(`<text x="${x + bw / 2}" y="${y0 + pad.t + plotH - 3}" font-size="8" text-anchor="middle" fill="#c00">x</text>`);
          return;
        }
        const h = (plotH * v) / max;
        els.push(`<rect x="${x.toFixed(1)}" y="${(y0 + pad.t + plotH - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[s]}"><title>${esc(`${s} N=${n}: ${v.toFixed(2)}`)}</title></rect>`);
      });
    });
    return els.join('\n');
  });
  const legend = servers.map((s, i) => `<rect x="${10 + i * 150}" y="${40 + 2 * H}" width="12" height="12" fill="${COLORS[s]}"/><text x="${26 + i * 150}" y="${50 + 2 * H}">${s}</text>`);
  const width = cols * W, height = 2 * H + 70;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...panels, ...legend, `<text x="10" y="${height - 6}" font-size="9" fill="#777">x = no figure (the server failed at that N)</text>`, '</svg>',
  ].join('\n');
}

// ---- markdown -------------------------------------------------------------

export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let java = 'no java';
  try {
    // `java -version` writes to stderr; the shell folds it into what we read.
    java = execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim() || java;
  } catch {
    /* no java on this machine */
  }
  return `${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}, ${java}, open-file limit 20,000 per process`;
}

export function markdownReport(x: { aggs: Aggregate[]; command: string; date: string; machine: string; scheduling: string; svgFile: string; jsonFile: string; notes: string[] }): string {
  const fig = figuresRows(x.aggs);
  const rat = ratioRows(ratios(x.aggs));
  const tg = checkTargets(x.aggs);
  const fails = x.aggs.filter((a) => a.failures.length);
  return [
    `# herald vs ws, Socket.IO, Netty and bare uWS (${x.date})`,
    '',
    `- Command: \`${x.command}\``,
    `- Date: ${x.date}`,
    `- Machine: ${x.machine}`,
    `- ${x.scheduling}`,
    `- Raw figures: [${x.jsonFile}](${x.jsonFile}); chart: [${x.svgFile}](${x.svgFile})`,
    '',
    `![comparison chart](${x.svgFile})`,
    '',
    '## Figures (median over repetitions)',
    '',
    mdTable(fig.header, fig.rows),
    '',
    'RSS0 = summed RSS of all server processes before the ramp; RSS = after the ramp and 10 s idle; RSS/conn, USS/conn (private memory, unmoved by other processes sharing the binary) = their difference per connection. CPU us/msg = utime+stime over the broadcast phase / delivered messages (server processes; the load client\'s for comparison). Completion = publish stamp to the last connection\'s receipt, per broadcast. Latency = over every receipt. conn/s = steady ramp rate (10% to 90% of N).',
    '',
    '## Ratios (herald / peer)',
    '',
    mdTable(rat.header, rat.rows),
    '',
    '## Targets (herald with the Redis broker)',
    '',
    tg.length ? mdTable(['N', 'target', 'value', 'met'], tg.map((t) => [t.n.toLocaleString('en-US'), t.target, t.value, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'])) : '(no herald run)',
    '',
    ...(fails.length ? ['## Failures', '', ...fails.flatMap((a) => a.failures.map((m) => `- ${a.server} at N=${a.n.toLocaleString('en-US')}: ${m}`)), ''] : []),
    ...(x.notes.length ? ['## Notes', '', ...x.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
