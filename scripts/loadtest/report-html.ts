// Self-contained HTML report: inline SVG charts, no scripts or CDN.
import type { LoadResult } from './result';
import { textReport } from './report-text';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface Chart { title: string; xLabel: string; yLabel: string; points: [number, number][]; kind: 'bars' | 'line' }

function svgChart(c: Chart): string {
  const W = 720, H = 260, L = 60, B = 40, T = 24, R = 16;
  const pts = c.points;
  if (!pts.length) return `<h2>${esc(c.title)}</h2><p>no data</p>`;
  const xMax = Math.max(...pts.map((p) => p[0])) || 1, xMin = c.kind === 'bars' ? 0 : Math.min(...pts.map((p) => p[0]));
  const yMax = Math.max(...pts.map((p) => p[1])) || 1;
  const x = (v: number): number => L + ((v - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const y = (v: number): number => H - B - (v / yMax) * (H - B - T);
  let body = '';
  if (c.kind === 'line') {
    body = `<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`;
  } else {
    const bw = Math.max(2, (W - L - R) / pts.length - 2);
    body = pts.map((p, i) => {
      const bx = L + i * ((W - L - R) / pts.length);
      return `<rect x="${bx.toFixed(1)}" y="${y(p[1]).toFixed(1)}" width="${bw.toFixed(1)}" height="${(H - B - y(p[1])).toFixed(1)}" fill="#2563eb"><title>${p[0]}: ${p[1]}</title></rect>`;
    }).join('');
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const yv = yMax * f, xv = c.kind === 'bars' ? pts[Math.min(pts.length - 1, Math.round(f * (pts.length - 1)))][0] : xMin + (xMax - xMin) * f;
    const xx = c.kind === 'bars' ? L + Math.round(f * (pts.length - 1)) * ((W - L - R) / pts.length) : x(xv);
    return `<text x="${L - 6}" y="${y(yv) + 4}" text-anchor="end">${+yv.toPrecision(3)}</text>` +
      `<text x="${xx}" y="${H - B + 16}" text-anchor="middle">${+xv.toPrecision(3)}</text>`;
  }).join('');
  return `<h2>${esc(c.title)}</h2><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif">` +
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#555"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#555"/>` +
    body + ticks +
    `<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">${esc(c.xLabel)}</text>` +
    `<text x="14" y="${(H - B + T) / 2}" transform="rotate(-90 14 ${(H - B + T) / 2})" text-anchor="middle">${esc(c.yLabel)}</text></svg>`;
}

export function htmlReport(r: LoadResult): string {
  const charts = [
    svgChart({ title: 'Latency distribution', xLabel: 'latency (ms, bucket upper bound)', yLabel: 'messages', points: r.latencyDistribution, kind: 'bars' }),
    svgChart({ title: 'Connections over time', xLabel: 'seconds since start', yLabel: 'open connections', points: r.timeline.map((p) => [p.tMs / 1000, p.connected]), kind: 'line' }),
    svgChart({ title: 'Completion time per broadcast', xLabel: 'broadcast seq', yLabel: 'ms until last connection had it', points: r.broadcasts.map((b) => [b.seq, b.completionMs ?? 0]), kind: 'bars' }),
  ];
  return `<!doctype html><html><head><meta charset="utf-8"><title>herald loadtest ${esc(r.startedAt)}</title>
<style>body{font-family:sans-serif;max-width:800px;margin:2em auto;color:#222}pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head>
<body><h1>herald loadtest</h1><pre>${esc(textReport(r))}</pre>${charts.join('\n')}
<h2>Full result</h2><pre>${esc(JSON.stringify({ ...r, timeline: `${r.timeline.length} points` }, null, 2))}</pre></body></html>\n`;
}
