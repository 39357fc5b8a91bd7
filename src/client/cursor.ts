import type { GapFrame } from '../protocol/wire.js';

/**
 * A topic's position: the last seq delivered to the application. It delivers
 * each seq once and in order: a seq at or below the position is a duplicate
 * (dropped), one past the next is a hole in the live stream (dropped too,
 * while the topic is read again from the position).
 */
export class SeqCursor {
  /** While a resync of the topic runs; cleared when the server says `recovered`. */
  resyncing = false;

  constructor(public last?: number) {}

  accept(seq: number | undefined): 'deliver' | 'duplicate' | 'hole' {
    if (seq === undefined) return 'deliver';
    if (this.last === undefined || seq === this.last + 1) {
      this.last = seq;
      return 'deliver';
    }
    return seq <= this.last ? 'duplicate' : 'hole';
  }

  /** The server could not replay everything: continue from what it has. */
  applyGap(gap: GapFrame): void {
    if (gap.reason === 'no-history') this.last = undefined;
    else if (gap.reason === 'ahead' || gap.first === null) this.last = gap.current;
    else this.last = gap.first - 1;
  }
}
