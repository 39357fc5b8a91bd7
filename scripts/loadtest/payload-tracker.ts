// Turns received payloads into latency samples and per-connection sequence checks.
// The stamp is read from the payload bytes (clock-stamp.ts): no parse per copy.
import type { ClientStats } from './client-stats';
import { numberAfterKey, readStamp, type Stamp } from './clock-stamp';

/** The per-connection part of sequence tracking (fields live on the connection object). */
export interface SeqState {
  firstSeq: number;
  lastSeq: number;
  /** when the connection became ready (us); published seqs before it are not expected */
  openUs: number;
  /** the connection's own index when it has its own topic, else -1 */
  user: number;
}

export interface PublishedSeq { seq: number; t: number }

/** A gap larger than this is counted in total but not itemised per seq (corrupt seq guard). */
const MAX_ITEMISED_GAP = 100_000;
const KEY_USER = Buffer.from('u');

export class PayloadTracker {
  /** reused for every payload: reading a stamp allocates nothing */
  private readonly stamp: Stamp = { t: 0, seq: -1 };

  constructor(private readonly stats: ClientStats) {}

  track(c: SeqState, buf: Buffer, start: number, end: number, recvUs: number): void {
    const stamp = this.stamp;
    const stats = this.stats;
    if (!readStamp(buf, start, end, stamp)) { stats.untracked++; return; }
    // A message for one user names it ("u"); it must be this connection's own.
    if (c.user >= 0) {
      const user = numberAfterKey(buf, start, end, KEY_USER);
      if (user === c.user) stats.userMessages++;
      else if (user >= 0) stats.misdelivered++;
    }
    const seq = stamp.seq;
    if (seq >= 0) {
      if (c.firstSeq < 0) {
        c.firstSeq = seq;
        c.lastSeq = seq;
      } else if (seq > c.lastSeq) {
        const gap = seq - c.lastSeq - 1;
        if (gap > 0) {
          if (gap <= MAX_ITEMISED_GAP) for (let s = c.lastSeq + 1; s < seq; s++) stats.missing(s);
          else stats.lost += gap;
        }
        c.lastSeq = seq;
      } else {
        // One TCP stream delivers in order, so an old or equal seq is a repeat.
        stats.duplicates++;
        stats.messages++;
        return;
      }
    }
    stats.recordReceive(seq, stamp.t, recvUs);
  }

  /**
   * After the run: seqs the run itself published while this connection was ready,
   * but which lie outside what it saw (so gap detection could not catch them).
   */
  finalize(c: SeqState, published: PublishedSeq[]): void {
    for (const p of published) {
      if (p.t <= c.openUs) continue;
      if (c.firstSeq < 0 || p.seq < c.firstSeq || p.seq > c.lastSeq) this.stats.missing(p.seq);
    }
  }
}
