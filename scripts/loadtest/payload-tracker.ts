// Turns received payloads into latency samples and per-connection sequence checks.
// A broadcast delivers the same bytes to every connection of a process, so parsed
// stamps are cached by payload bytes: one JSON.parse per distinct payload, a memcmp
// for each further copy.
import type { ClientStats } from './client-stats';
import type { MessageProtocol, Stamp } from './message-protocol';

/** The per-connection part of sequence tracking (fields live on the connection object). */
export interface SeqState {
  firstSeq: number;
  lastSeq: number;
  /** when the connection became ready (us); published seqs before it are not expected */
  openUs: number;
}

export interface PublishedSeq { seq: number; t: number }

const CACHE_SIZE = 8;
/** A gap larger than this is counted in total but not itemised per seq (corrupt seq guard). */
const MAX_ITEMISED_GAP = 100_000;

export class PayloadTracker {
  private cacheBytes: (Buffer | null)[] = new Array(CACHE_SIZE).fill(null);
  private cacheStamp: (Stamp | null)[] = new Array(CACHE_SIZE).fill(null);
  private cacheNext = 0;

  constructor(private readonly stats: ClientStats, private readonly protocol: MessageProtocol) {}

  private stampOf(payload: Buffer): Stamp | null {
    for (let i = 0; i < CACHE_SIZE; i++) {
      const b = this.cacheBytes[i];
      if (b !== null && b.length === payload.length && b.equals(payload)) return this.cacheStamp[i];
    }
    const stamp = this.protocol.parse(payload);
    // Copy: payload may be a view into a large read buffer.
    this.cacheBytes[this.cacheNext] = Buffer.from(payload);
    this.cacheStamp[this.cacheNext] = stamp;
    this.cacheNext = (this.cacheNext + 1) % CACHE_SIZE;
    return stamp;
  }

  track(c: SeqState, payload: Buffer, recvUs: number): void {
    const stamp = this.stampOf(payload);
    const stats = this.stats;
    if (!stamp) { stats.untracked++; return; }
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
