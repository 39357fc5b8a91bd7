// Figures one client process collects, and how snapshots from several processes merge.
// Histograms travel over IPC in HdrHistogram's compressed base64 form.
import * as hdr from 'hdr-histogram-js';

type Histogram = hdr.Histogram;

/** Microsecond wall clock shared by publisher and receivers (same host, same clock). */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function newHistogram(): Histogram {
  // 1 us .. 1 hour, 3 significant digits; pure JS so no WebAssembly memory per process.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600e6, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export interface SeqFigures {
  seq: number;
  /** send stamp (us) from the payload */
  t: number;
  received: number;
  /** receive time of the first and last copy (us) */
  firstUs: number;
  lastUs: number;
  /** connections that missed this seq */
  missing: number;
}

export interface StatsSnapshot {
  latency: string;
  handshake: string;
  messages: number;
  untracked: number;
  lost: number;
  duplicates: number;
  /** failed attempts by kind: refused, timeout, http_503, closed_1006, reset, ... */
  errors: Record<string, number>;
  /** connections given up after all retries */
  failed: number;
  /** connections that were open and then closed by the server or network */
  dropped: number;
  seqs: SeqFigures[];
}

export class ClientStats {
  latency = newHistogram();
  handshake = newHistogram();
  messages = 0;
  untracked = 0;
  lost = 0;
  duplicates = 0;
  failed = 0;
  dropped = 0;
  errors: Record<string, number> = {};
  seqs = new Map<number, SeqFigures>();

  error(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  seq(seq: number, t: number): SeqFigures {
    let f = this.seqs.get(seq);
    if (!f) { f = { seq, t, received: 0, firstUs: 0, lastUs: 0, missing: 0 }; this.seqs.set(seq, f); }
    return f;
  }

  recordReceive(seq: number, t: number, recvUs: number): void {
    this.messages++;
    // A clock step could make this negative; clamp rather than lose the sample.
    this.latency.recordValue(Math.max(1, recvUs - t));
    if (seq < 0) return;
    const f = this.seq(seq, t);
    f.received++;
    if (f.firstUs === 0 || recvUs < f.firstUs) f.firstUs = recvUs;
    if (recvUs > f.lastUs) f.lastUs = recvUs;
  }

  missing(seq: number, count = 1): void {
    this.lost += count;
    const f = this.seqs.get(seq);
    if (f) f.missing += count;
    else this.seqs.set(seq, { seq, t: 0, received: 0, firstUs: 0, lastUs: 0, missing: count });
  }

  snapshot(): StatsSnapshot {
    return {
      latency: hdr.encodeIntoCompressedBase64(this.latency),
      handshake: hdr.encodeIntoCompressedBase64(this.handshake),
      messages: this.messages,
      untracked: this.untracked,
      lost: this.lost,
      duplicates: this.duplicates,
      errors: { ...this.errors },
      failed: this.failed,
      dropped: this.dropped,
      seqs: [...this.seqs.values()].map((f) => ({ ...f })),
    };
  }
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
  const out: MergedStats = { latency, handshake, messages: 0, untracked: 0, lost: 0, duplicates: 0, errors, failed: 0, dropped: 0, seqs: [] };
  for (const s of snaps) {
    latency.add(hdr.decodeFromCompressedBase64(s.latency, 32, false));
    handshake.add(hdr.decodeFromCompressedBase64(s.handshake, 32, false));
    out.messages += s.messages;
    out.untracked += s.untracked;
    out.lost += s.lost;
    out.duplicates += s.duplicates;
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
