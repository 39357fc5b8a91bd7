/**
 * Each envelope connection's command budget: a token bucket of `burst`
 * commands refilled at `perSecond`. Its two numbers live on the socket object
 * itself and only once the connection sends a frame, so a connection that
 * never sends one costs nothing (as with ClientRateLimiter).
 */
interface Budgeted {
  heraldCommandTokens?: number;
  heraldCommandAt?: number;
}

export class CommandBudget {
  constructor(private readonly burst: number, private readonly perSecond: number) {}

  /** Takes one command; 0 when it may run now, else the milliseconds until the next one may. */
  take(socket: object, now = Date.now()): number {
    const s = socket as Budgeted;
    const tokens = s.heraldCommandTokens === undefined ? this.burst : Math.min(this.burst, s.heraldCommandTokens + ((now - s.heraldCommandAt!) / 1000) * this.perSecond);
    s.heraldCommandAt = now;
    if (tokens >= 1) {
      s.heraldCommandTokens = tokens - 1;
      return 0;
    }
    s.heraldCommandTokens = tokens;
    return Math.ceil(((1 - tokens) / this.perSecond) * 1000);
  }
}
