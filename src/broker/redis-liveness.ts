import type Redis from 'ioredis';

/** How often a connected Redis link is probed with PING. */
export const PROBE_INTERVAL_MS = 1000;

/**
 * Notices a Redis that still holds its TCP connection but does not answer (stopped,
 * swapping, stuck in a slow script): ioredis alone would wait forever. A PING goes out
 * every PROBE_INTERVAL_MS while the link is up; no answer within `timeoutMs` makes the
 * link unresponsive until a PING is answered again. PING is valid in subscriber mode too.
 */
export class RedisLiveness {
  private timer?: NodeJS.Timeout;
  private inFlight = false;
  responsive = true;

  constructor(
    private readonly redis: Redis,
    private readonly timeoutMs: number,
    private readonly onChange: (responsive: boolean) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A new connection starts out answering (its handshake just did). */
  reset(): void {
    this.set(true);
  }

  private probe(): void {
    if (this.redis.status !== 'ready' || this.inFlight) return;
    this.inFlight = true;
    const late = setTimeout(() => this.set(false), this.timeoutMs);
    const settle = (answered: boolean) => {
      clearTimeout(late);
      this.inFlight = false;
      if (answered) this.set(true);
    };
    // A failed PING means the link is going down: the connection's own events report that.
    this.redis.ping().then(() => settle(true), () => settle(false));
  }

  private set(responsive: boolean): void {
    if (responsive === this.responsive) return;
    this.responsive = responsive;
    this.onChange(responsive);
  }
}
