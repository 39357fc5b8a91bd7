/** Runs fn after ms without keeping the process alive. */
export type WindowTimer = (fn: () => void, ms: number) => void;

const unrefTimeout: WindowTimer = (fn, ms) => void setTimeout(fn, ms).unref();

/**
 * Fixed-window counter of client frames (data, ping and pong). Windows are shared by
 * all sockets and the counts live in a map emptied when each window ends, so only the
 * sockets that sent something in the current window cost memory: every client answers
 * the server's pings, and a counter kept on each socket would cost every connection
 * about 200 bytes for good.
 *
 * A timer set when a window opens ends it: emptied only by the next frame, the map
 * kept one entry for every socket from one automatic ping to the next (measured: a
 * 456 KB table for 15,000 connections, ~30 B each, for good).
 */
export class ClientRateLimiter {
  private readonly counts = new Map<object, number>();
  /** end of the current window; 0 when none is open (the next frame opens one) */
  private windowEnd = 0;

  constructor(private readonly maxPerWindow: number, private readonly windowMs: number, private readonly timer: WindowTimer = unrefTimeout) {}

  /** Counts one frame; false once the socket has sent more than allowed in this window. */
  allow(socket: object, now = Date.now()): boolean {
    if (now >= this.windowEnd) {
      this.counts.clear();
      const end = (this.windowEnd = now + this.windowMs);
      this.timer(() => this.windowTimerFired(end), this.windowMs);
    }
    const n = (this.counts.get(socket) ?? 0) + 1;
    this.counts.set(socket, n);
    return n <= this.maxPerWindow;
  }

  /** Drops a closed socket's count, so the map never holds a closed socket until the window ends. */
  forget(socket: object): void {
    this.counts.delete(socket);
  }

  /** Sockets with a count in the current window. */
  get size(): number {
    return this.counts.size;
  }

  private windowTimerFired(end: number): void {
    // A late timer: a frame after `end` already opened the next window, which has its own.
    if (this.windowEnd !== end) return;
    this.counts.clear();
    this.windowEnd = 0;
  }
}
