import type { TopicPatterns } from '../protocol/topic-patterns';
import { baseTopic } from './topic-names';

/** Connections of one user (`sub`; '' for connections without a user) on one topic, on one worker. */
export type PresenceUpdate = [topic: string, sub: string, count: number];

/**
 * Counts this worker's connections on presence-tracked topics, per user, and
 * reports the counts that changed in one batch per flush period (absolute
 * values, so a lost or repeated report cannot skew a total). It is told of
 * every socket joining or leaving a uWS topic (uWS's `subscription` callback,
 * which also fires for each topic when a socket closes), so it needs nothing
 * on the connection itself. No timer runs while nothing changes.
 */
export class PresenceTracker {
  private readonly counts = new Map<string, Map<string, number>>();
  private dirty = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly patterns: TopicPatterns,
    private readonly flushMs: number,
    private readonly report: (updates: PresenceUpdate[]) => void,
  ) {}

  /** A socket of user `sub` joined (newCount > oldCount) or left a uWS topic. */
  onSubscription(sub: string | undefined, uwsTopic: string, newCount: number, oldCount: number): void {
    const topic = baseTopic(uwsTopic);
    if (!this.patterns.matches(topic)) return;
    const user = sub ?? '';
    let users = this.counts.get(topic);
    if (!users) this.counts.set(topic, (users = new Map()));
    const n = (users.get(user) ?? 0) + (newCount > oldCount ? 1 : -1);
    if (n > 0) users.set(user, n);
    else {
      users.delete(user);
      if (users.size === 0) this.counts.delete(topic);
    }
    let changed = this.dirty.get(topic);
    if (!changed) this.dirty.set(topic, (changed = new Set()));
    changed.add(user);
    this.arm();
  }

  /** Reports what changed since the last flush. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty.size === 0) return;
    const updates: PresenceUpdate[] = [];
    for (const [topic, users] of this.dirty) {
      const counts = this.counts.get(topic);
      for (const user of users) updates.push([topic, user, counts?.get(user) ?? 0]);
    }
    this.dirty = new Map();
    this.report(updates);
  }

  /** Connections on a topic here (for tests and stats). */
  connections(topic: string): number {
    let n = 0;
    for (const c of this.counts.get(topic)?.values() ?? []) n += c;
    return n;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => this.flush(), this.flushMs);
    this.timer.unref();
  }
}
