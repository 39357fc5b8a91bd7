/** Reconnect delays: exponential backoff with full jitter (a uniform delay up to the current cap). */
export interface BackoffOptions {
  /** Cap of the first retry's delay, in ms. */
  minDelayMs: number;
  /** Largest cap, in ms. */
  maxDelayMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions, private readonly random: () => number = Math.random) {}

  /** The delay before the next attempt; each call doubles the cap until maxDelayMs. */
  next(): number {
    const cap = Math.min(this.options.maxDelayMs, this.options.minDelayMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.floor(this.random() * cap);
  }

  /** A delay for "reconnect now" (a rolling restart): jitter up to minDelayMs, the cap unchanged. */
  soon(): number {
    return Math.floor(this.random() * this.options.minDelayMs);
  }

  reset(): void {
    this.attempt = 0;
  }
}
