/**
 * Fixed-window counter of client frames (data, ping and pong). Windows are shared by
 * all sockets and the counts live in a map emptied at each window's end, so only the
 * sockets that sent something in the current window cost memory: every client answers
 * the server's pings, and a counter kept on each socket would cost every connection
 * about 200 bytes for good.
 */
export class ClientRateLimiter {
  private readonly counts = new Map<object, number>();
  private windowEnd = 0;

  constructor(private readonly maxPerWindow: number, private readonly windowMs: number) {}

  /** Counts one frame; false once the socket has sent more than allowed in this window. */
  allow(socket: object, now = Date.now()): boolean {
    if (now >= this.windowEnd) {
      this.counts.clear();
      this.windowEnd = now + this.windowMs;
    }
    const n = (this.counts.get(socket) ?? 0) + 1;
    this.counts.set(socket, n);
    return n <= this.maxPerWindow;
  }

  /** Drops a closed socket's count, so the map never holds a closed socket until the window ends. */
  forget(socket: object): void {
    this.counts.delete(socket);
  }
}
