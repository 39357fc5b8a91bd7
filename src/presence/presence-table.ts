import type { PresenceUpdate } from '../hub/presence-tracker';

/** Connections and distinct users on a topic. `users` counts subs: connections without a user (auth off) are not users. */
export interface PresenceCount {
  connections: number;
  users: number;
}

/** A (topic, sub) whose total changed. */
export type PresenceKey = [topic: string, sub: string];

/**
 * One herald's presence: each live worker's counts per (topic, sub), as the
 * workers last reported them, keyed by the worker's pid (during a rolling
 * restart two workers share a slot). A worker that exits is dropped at once,
 * so its connections leave the totals with it.
 */
export class PresenceTable {
  private readonly workers = new Map<number, Map<string, Map<string, number>>>();

  /** Applies a worker's report; returns the (topic, sub) pairs it touched. */
  apply(pid: number, updates: readonly PresenceUpdate[]): PresenceKey[] {
    let topics = this.workers.get(pid);
    if (!topics) this.workers.set(pid, (topics = new Map()));
    for (const [topic, sub, count] of updates) {
      let subs = topics.get(topic);
      if (count > 0) {
        if (!subs) topics.set(topic, (subs = new Map()));
        subs.set(sub, count);
      } else if (subs?.delete(sub) && subs.size === 0) topics.delete(topic);
    }
    if (topics.size === 0) this.workers.delete(pid);
    return updates.map(([topic, sub]) => [topic, sub]);
  }

  /** Forgets a worker that exited; returns the pairs it held. */
  dropWorker(pid: number): PresenceKey[] {
    const topics = this.workers.get(pid);
    if (!topics) return [];
    this.workers.delete(pid);
    const keys: PresenceKey[] = [];
    for (const [topic, subs] of topics) for (const sub of subs.keys()) keys.push([topic, sub]);
    return keys;
  }

  /** Connections of `sub` on `topic` over every worker. */
  total(topic: string, sub: string): number {
    let n = 0;
    for (const topics of this.workers.values()) n += topics.get(topic)?.get(sub) ?? 0;
    return n;
  }

  /** Every sub on the topic with its connections over every worker. */
  subs(topic: string): Map<string, number> {
    const all = new Map<string, number>();
    for (const topics of this.workers.values()) {
      for (const [sub, n] of topics.get(topic) ?? []) all.set(sub, (all.get(sub) ?? 0) + n);
    }
    return all;
  }

  count(topic: string): PresenceCount {
    return countOf(this.subs(topic));
  }

  /** Every topic some worker holds. */
  topics(): Set<string> {
    const all = new Set<string>();
    for (const topics of this.workers.values()) for (const topic of topics.keys()) all.add(topic);
    return all;
  }
}

/** Totals of a sub -> connections map ('' is connections without a user). */
export function countOf(subs: Map<string, number>): PresenceCount {
  let connections = 0;
  for (const n of subs.values()) connections += n;
  return { connections, users: subs.size - (subs.has('') ? 1 : 0) };
}
