// Plain-text report in the spirit of the C1M article's client output, plus the
// progress line shown while ramping.
import type { LoadResult, Summary } from './result';
import type { Progress } from './coordinator';

function fmtSummary(name: string, s: Summary): string[] {
  return [
    `${name}: count=${s.count}`,
    `  min=${s.min} ms  max=${s.max} ms  mean=${s.mean.toFixed(3)} ms  stddev=${s.stddev.toFixed(3)} ms`,
    `  median=${s.p50} ms  75%=${s.p75} ms  95%=${s.p95} ms  98%=${s.p98} ms  99%=${s.p99} ms  99.9%=${s.p999} ms`,
  ];
}

export function textReport(r: LoadResult): string {
  const c = r.connections;
  const lines = [
    `herald loadtest  ${r.startedAt}  ${r.options.urls.join(',')}  (${r.processes} client process${r.processes > 1 ? 'es' : ''})`,
    `active connections: ${c.connected} / ${c.target}   failed: ${c.failed}   dropped: ${c.dropped}` +
      (c.timeToConnectAllMs !== null ? `   all connected in ${(c.timeToConnectAllMs / 1000).toFixed(2)} s` : ''),
    `errors (attempts): ${Object.keys(r.errors).length ? Object.entries(r.errors).map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`,
    ...fmtSummary('handshake', r.handshakeMs),
    ...fmtSummary('latency', r.latencyMs),
    `messages: received=${r.messages.received} lost=${r.messages.lost} duplicates=${r.messages.duplicates} untracked=${r.messages.untracked} rate=${r.messages.perSecond}/s`,
  ];
  if (r.options.topicTemplate !== null) lines.push(`own-topic messages (${r.options.topicTemplate}): ${r.messages.own}   misdelivered: ${r.messages.misdelivered}`);
  if (r.memory) {
    const m = r.memory;
    lines.push(`client memory: ${m.bytesPerConnection} B RSS/connection (${m.heapBytesPerConnection} B heap), baseline ${(m.baselineRssPerProcess / 1048576).toFixed(1)} MB RSS/process`);
  }
  for (const b of r.broadcasts) {
    lines.push(`broadcast seq=${b.seq}: received=${b.received} missing=${b.missing} first=${b.firstMs ?? '-'} ms complete=${b.completionMs ?? '-'} ms`);
  }
  return lines.join('\n');
}

export function progressLine(p: Progress, tty: boolean): string {
  const pct = p.target ? p.connected / p.target : 0;
  const head = `${p.connected}/${p.target} connected  pending=${p.pending}  rate=${Math.round(p.rate)}/s  errors=${p.errors}  failed=${p.failed}  msgs=${p.messages}  ${(p.elapsedMs / 1000).toFixed(1)}s`;
  if (!tty) return head;
  const width = 30, fill = Math.min(width, Math.round(pct * width));
  return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(pct * 100).toFixed(1)}% ${head}`;
}
