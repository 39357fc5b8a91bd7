// Merges the client processes' snapshots into HDR histograms (coordinator side only,
// so the client processes never load hdr-histogram-js; the coordinator loads it when
// it first merges, not at start-up, where loading it cost 40 ms of CPU).
import type { Histogram } from 'hdr-histogram-js';
import type { SeqFigures, StatsSnapshot } from './client-stats';

export function newHistogram(): Histogram {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hdr = require('hdr-histogram-js') as typeof import('hdr-histogram-js');
  // 1 us .. 1 hour, 3 significant digits; pure JS, no WebAssembly memory.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600e6, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export interface MergedStats extends Omit<StatsSnapshot, 'latency' | 'handshake'> {
  latency: Histogram;
  handshake: Histogram;
}

export function mergeSnapshots(snaps: StatsSnapshot[]): MergedStats {
  const latency = newHistogram();
  const handshake = newHistogram();
  const errors: Record<string, number> = {};
  const seqs = new Map<number, SeqFigures>();
  const out: MergedStats = { latency, handshake, messages: 0, untracked: 0, lost: 0, duplicates: 0, userMessages: 0, misdelivered: 0, errors, failed: 0, dropped: 0, seqs: [] };
  for (const s of snaps) {
    for (const [v, n] of s.latency) latency.recordValueWithCount(Math.max(1, v), n);
    for (const [v, n] of s.handshake) handshake.recordValueWithCount(Math.max(1, v), n);
    out.messages += s.messages;
    out.untracked += s.untracked;
    out.lost += s.lost;
    out.duplicates += s.duplicates;
    out.userMessages += s.userMessages;
    out.misdelivered += s.misdelivered;
    out.failed += s.failed;
    out.dropped += s.dropped;
    for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const f of s.seqs) {
      const m = seqs.get(f.seq);
      if (!m) { seqs.set(f.seq, { ...f }); continue; }
      if (!m.t) m.t = f.t;
      m.received += f.received;
      m.missing += f.missing;
      if (f.firstUs && (!m.firstUs || f.firstUs < m.firstUs)) m.firstUs = f.firstUs;
      if (f.lastUs > m.lastUs) m.lastUs = f.lastUs;
    }
  }
  out.seqs = [...seqs.values()].sort((a, b) => a.seq - b.seq);
  return out;
}
