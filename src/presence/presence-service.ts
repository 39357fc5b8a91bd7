import type { PresenceUpdate } from '../hub/presence-tracker';
import type { Logger } from '../logger';
import type { TopicPatterns } from '../protocol/topic-patterns';
import { PresenceTable, type PresenceCount, type PresenceKey } from './presence-table';
import type { RedisPresence } from './redis-presence';

export interface PresenceServiceDeps {
  patterns: TopicPatterns;
  flushMs: number;
  /** Push counts to envelope subscribers (presence.push): `announce` publishes them as a control message. */
  announce?: (topic: string, count: PresenceCount) => Promise<unknown>;
  log: Logger;
}

/**
 * The primary's presence: workers' batched reports in, GET /presence out. With
 * the local broker the table in memory is the whole truth; with Redis each
 * herald's totals are written there (batched, only what changed) and read
 * back summed over every live herald. Changes are flushed at most once per
 * flushMs, and no timer runs while nothing changes.
 */
export class PresenceService {
  readonly table = new PresenceTable();
  private dirty = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;
  private flushing = Promise.resolve();
  private redis?: RedisPresence;
  private stopped = false;

  constructor(private readonly deps: PresenceServiceDeps) {}

  /** Shares counts through Redis (Redis broker). */
  useRedis(redis: RedisPresence): void {
    this.redis = redis;
  }

  tracks(topic: string): boolean {
    return this.deps.patterns.matches(topic);
  }

  report(pid: number, updates: readonly PresenceUpdate[]): void {
    this.mark(this.table.apply(pid, updates));
  }

  /** A worker exited: its connections leave the counts. */
  workerExited(pid: number): void {
    this.mark(this.table.dropWorker(pid));
  }

  count(topic: string): Promise<PresenceCount> {
    return this.redis ? this.redis.count(topic) : Promise.resolve(this.table.count(topic));
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.flushing;
    await this.redis?.close();
  }

  private mark(keys: PresenceKey[]): void {
    for (const [topic, sub] of keys) {
      let subs = this.dirty.get(topic);
      if (!subs) this.dirty.set(topic, (subs = new Set()));
      subs.add(sub);
    }
    if (this.dirty.size > 0 && !this.timer && !this.stopped) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushing = this.flushing.then(() => this.flush());
      }, this.deps.flushMs);
      this.timer.unref();
    }
  }

  private async flush(): Promise<void> {
    const dirty = this.dirty;
    this.dirty = new Map();
    const keys: PresenceKey[] = [];
    for (const [topic, subs] of dirty) for (const sub of subs) keys.push([topic, sub]);
    await this.redis?.sync(keys);
    const { announce, log } = this.deps;
    if (!announce) return;
    for (const topic of dirty.keys()) {
      try {
        await announce(topic, await this.count(topic));
      } catch (err) {
        log.warn({ topic, err: (err as Error).message }, 'presence push failed');
      }
    }
  }
}
