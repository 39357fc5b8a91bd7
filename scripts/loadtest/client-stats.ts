// Figures one client process collects. Histograms travel over IPC as sparse bucket
// lists (see compact-histogram.ts); merge-stats.ts combines them in the coordinator.
import { CompactHistogram } from './compact-histogram';

// Read once: performance.timeOrigin is a checked getter, and nowUs runs for every message.
const TIME_ORIGIN_MS = performance.timeOrigin;

/** Microsecond wall clock shared by publisher and receivers (same host, same clock). */
export function nowUs(): number {
  return Math.round((TIME_ORIGIN_MS + performance.now()) * 1000);
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
  /** [value us, count] pairs */
  latency: [number, number][];
  handshake: [number, number][];
  messages: number;
  untracked: number;
  lost: number;
  duplicates: number;
  /** messages naming this connection's own index ("u"), with --topic-template */
  userMessages: number;
  /** messages naming another connection's index: delivered to the wrong one */
  misdelivered: number;
  /** failed attempts by kind: refused, timeout, http_503, closed_1006, reset, ... */
  errors: Record<string, number>;
  /** connections given up after all retries */
  failed: number;
  /** connections that were open and then closed by the server or network */
  dropped: number;
  seqs: SeqFigures[];
}

export class ClientStats {
  latency = new CompactHistogram();
  handshake = new CompactHistogram();
  messages = 0;
  untracked = 0;
  lost = 0;
  duplicates = 0;
  userMessages = 0;
  misdelivered = 0;
  failed = 0;
  dropped = 0;
  errors: Record<string, number> = {};
  seqs = new Map<number, SeqFigures>();

  /** Starts a new measuring window: message figures go back to zero (connection counts stay). */
  resetMessages(): void {
    this.latency = new CompactHistogram();
    this.messages = this.untracked = this.lost = this.duplicates = this.userMessages = this.misdelivered = 0;
    this.seqs = new Map();
    this.current = null;
  }

  error(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  /** the figures of the seq seen last: a broadcast's copies arrive together */
  private current: SeqFigures | null = null;

  seq(seq: number, t: number): SeqFigures {
    if (this.current?.seq === seq) return this.current;
    let f = this.seqs.get(seq);
    if (!f) { f = { seq, t, received: 0, firstUs: 0, lastUs: 0, missing: 0 }; this.seqs.set(seq, f); }
    return (this.current = f);
  }

  recordReceive(seq: number, t: number, recvUs: number): void {
    this.messages++;
    // A clock step could make this negative; clamp rather than lose the sample.
    this.latency.record(Math.max(1, recvUs - t));
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
      latency: this.latency.toPairs(),
      handshake: this.handshake.toPairs(),
      messages: this.messages,
      untracked: this.untracked,
      lost: this.lost,
      duplicates: this.duplicates,
      userMessages: this.userMessages,
      misdelivered: this.misdelivered,
      errors: { ...this.errors },
      failed: this.failed,
      dropped: this.dropped,
      seqs: [...this.seqs.values()].map((f) => ({ ...f })),
    };
  }
}

