import { processBeat, type Beat } from '../runtime/beat';

/**
 * Closes connections whose token expired. One timer for the whole worker and
 * one bucket per expiry second, rather than a timer per connection: a worker
 * may hold hundreds of thousands of authenticated connections.
 */
export class ExpirySweeper<S> {
  private readonly buckets = new Map<number, Set<S>>();
  /** Every second up to this one has been swept. */
  private sweptUpTo: number;
  private stopSweeping?: () => void;

  constructor(
    private readonly onExpired: (socket: S) => void,
    private readonly now: () => number = () => Date.now() / 1000,
    private readonly beat: Beat = processBeat,
  ) {
    this.sweptUpTo = Math.floor(this.now());
  }

  start(): void {
    this.stopSweeping ??= this.beat.every(1000, () => this.sweep());
  }

  stop(): void {
    this.stopSweeping?.();
    this.stopSweeping = undefined;
  }

  /** `exp` in seconds since the epoch; an already-passed one is closed at the next sweep. */
  add(socket: S, exp: number): void {
    const second = Math.max(Math.ceil(exp), this.sweptUpTo + 1);
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Set()));
    bucket.add(socket);
  }

  remove(socket: S, exp: number): void {
    const second = Math.max(Math.ceil(exp), this.sweptUpTo + 1);
    const bucket = this.buckets.get(second);
    // Under the sweep, a closing socket's bucket is already gone; nothing to do.
    if (bucket?.delete(socket) && bucket.size === 0) this.buckets.delete(second);
  }

  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }

  sweep(): void {
    const now = Math.floor(this.now());
    for (let second = this.sweptUpTo + 1; second <= now; second++) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const socket of bucket) this.onExpired(socket);
    }
    if (now > this.sweptUpTo) this.sweptUpTo = now;
  }
}
