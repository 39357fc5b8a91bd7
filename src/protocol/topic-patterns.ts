/**
 * A list of topic names and prefixes ending in `*` (`room:*` matches
 * `room:7`), as in presence.topics. Lookups are memoised: the same topics
 * come up on every subscribe.
 */
export class TopicPatterns {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly memo = new Map<string, boolean>();

  constructor(readonly list: readonly string[]) {
    for (const p of list) {
      if (p.endsWith('*')) this.prefixes.push(p.slice(0, -1));
      else this.exact.add(p);
    }
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  matches(topic: string): boolean {
    let hit = this.memo.get(topic);
    if (hit === undefined) {
      hit = this.exact.has(topic) || this.prefixes.some((p) => topic.startsWith(p));
      // Topic names are client-chosen; keep the memo bounded.
      if (this.memo.size > 100_000) this.memo.clear();
      this.memo.set(topic, hit);
    }
    return hit;
  }
}
