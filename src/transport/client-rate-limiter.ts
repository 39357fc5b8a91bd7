/**
 * Fixed-window message counter for client frames. State lives on the socket
 * object itself and only once a client sends, so silent clients (nearly all
 * of them) cost nothing.
 */
interface Counted {
  heraldWindowStart?: number;
  heraldWindowCount?: number;
}

export class ClientRateLimiter {
  constructor(private readonly maxPerWindow: number, private readonly windowMs: number) {}

  /** Counts one message; false once the client has sent more than allowed in this window. */
  allow(socket: object, now = Date.now()): boolean {
    const s = socket as Counted;
    if (s.heraldWindowStart === undefined || now - s.heraldWindowStart >= this.windowMs) {
      s.heraldWindowStart = now;
      s.heraldWindowCount = 0;
    }
    s.heraldWindowCount = (s.heraldWindowCount ?? 0) + 1;
    return s.heraldWindowCount <= this.maxPerWindow;
  }
}
