import type { HeraldConfig } from '../config';
import { processBeat, type Beat } from '../runtime/beat';
import { connectionAddress, type Connection, type ConnectionObserver } from './connection-data';

/** Where a connection's source address is kept between open and close (uWS forbids reading it from a closed socket). */
interface Tagged {
  heraldIp?: string;
}

interface Bucket {
  tokens: number;
  at: number;
}

export type IpRefusal = 'ip_connections' | 'ip_rate';

/**
 * Per-source-IP limits of one worker: concurrent connections, and upgrades per
 * second as a token bucket (burst = rate). Counts are per worker process; the
 * kernel spreads one address's connections over the workers, so the effective
 * box-wide limit is about workers x the configured one.
 */
export class IpLimiter implements ConnectionObserver {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly stopCleanup?: () => void;

  constructor(private readonly maxConnections: number, private readonly perSecond: number, private readonly now: () => number = Date.now, beat: Beat = processBeat) {
    // A bucket that has refilled carries no information; drop it so idle addresses cost nothing.
    if (perSecond > 0) this.stopCleanup = beat.every(10_000, () => this.forgetFull());
  }

  /** Undefined when both limits are off, so the gateway skips the address lookup entirely. */
  static fromConfig(limits: HeraldConfig['limits']['perIp']): IpLimiter | undefined {
    if (limits.maxConnections === 0 && limits.upgradesPerSecond === 0) return undefined;
    return new IpLimiter(limits.maxConnections, limits.upgradesPerSecond);
  }

  /** Checks an upgrade from `ip` (canonical, as the gateway resolved it); takes one rate token when it passes. */
  check(ip: string): IpRefusal | undefined {
    if (this.maxConnections > 0 && (this.open.get(ip) ?? 0) >= this.maxConnections) return 'ip_connections';
    if (this.perSecond > 0) {
      const now = this.now();
      const bucket = this.buckets.get(ip) ?? { tokens: this.perSecond, at: now };
      bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      bucket.at = now;
      this.buckets.set(ip, bucket);
      if (bucket.tokens < 1) return 'ip_rate';
      bucket.tokens -= 1;
    }
    return undefined;
  }

  opened(ws: Connection): void {
    // The address check() was asked about: the client's behind a trusted proxy (already in the
    // user data), else the socket's peer, which uWS cannot tell any more once the socket is closed.
    const ip = connectionAddress(ws);
    if (ws.getUserData().ip === undefined) (ws as Tagged).heraldIp = ip;
    this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(ws: Connection): void {
    const ip = ws.getUserData().ip ?? (ws as Tagged).heraldIp;
    if (ip === undefined) return;
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  /** Addresses currently holding connections (for tests and stats). */
  get addresses(): number {
    return this.open.size;
  }

  stop(): void {
    this.stopCleanup?.();
  }

  private forgetFull(): void {
    const now = this.now();
    for (const [ip, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.perSecond) this.buckets.delete(ip);
    }
  }
}
