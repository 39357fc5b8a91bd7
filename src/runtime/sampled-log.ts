import type { Logger } from '../logger';

/**
 * Debug lines for events that can come by the million (connects, closes,
 * messages): at most `perSecond` lines per kind per second, then the rest are
 * counted, and the next second starts with one line saying how many of each
 * kind were left out. At trace level every event is written. Built only when
 * debug is on (`create` answers undefined otherwise), so at info level an
 * event costs one undefined check.
 */
export class SampledLog<K extends string> {
  private windowStart = 0;
  private readonly written = new Map<K, number>();
  private readonly skipped = new Map<K, number>();

  private constructor(private readonly log: Logger, private readonly perSecond: number, private readonly everything: boolean, private readonly now: () => number) {}

  static create<K extends string>(log: Logger, perSecond: number, now: () => number = Date.now): SampledLog<K> | undefined {
    if (!log.isLevelEnabled('debug')) return undefined;
    return new SampledLog<K>(log, perSecond, log.isLevelEnabled('trace'), now);
  }

  event(kind: K, fields: Record<string, unknown>, message: string): void {
    if (this.everything) return this.log.trace({ event: kind, ...fields }, message);
    const now = this.now();
    if (now - this.windowStart >= 1000) this.rollOver(now);
    const n = this.written.get(kind) ?? 0;
    if (n < this.perSecond) {
      this.written.set(kind, n + 1);
      this.log.debug({ event: kind, ...fields }, message);
    } else this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + 1);
  }

  private rollOver(now: number): void {
    if (this.skipped.size > 0) {
      this.log.debug({ skipped: Object.fromEntries(this.skipped), perSecond: this.perSecond }, 'traffic events not logged in the last second (log.eventsPerSecond; trace level logs all)');
      this.skipped.clear();
    }
    this.written.clear();
    this.windowStart = now;
  }
}
