import type { HistoryPage } from './broker';
import type { HistoryRule, HistoryRules } from './history-rules';

interface StoredEntry {
  seq: number;
  payload: Buffer;
  /** Milliseconds since the epoch when it was appended. */
  at: number;
}

interface TopicLog {
  /** Last seq given out; kept after every entry expired, so seqs never go back. */
  last: number;
  /** Entries from `head` on are retained; their seqs are consecutive. */
  entries: StoredEntry[];
  head: number;
}

/**
 * Seqs and bounded history kept in process memory, with the same rules as the
 * Redis history: the first matching rule gives the length and age bounds, seqs
 * start at 1 per topic and never repeat. The local broker keeps it in the
 * primary, so the embedded default recovers clients without Redis (for as long
 * as the primary runs).
 */
export class MemoryHistory {
  private readonly topics = new Map<string, TopicLog>();

  constructor(private readonly rules: HistoryRules, private readonly now: () => number = Date.now) {}

  hasHistory(topic: string): boolean {
    return this.rules.ruleFor(topic) !== undefined;
  }

  /** Gives the message the topic's next seq and keeps it; undefined when the topic has no rule. */
  append(topic: string, payload: Buffer): number | undefined {
    const rule = this.rules.ruleFor(topic);
    if (!rule) return undefined;
    let log = this.topics.get(topic);
    if (!log) this.topics.set(topic, (log = { last: 0, entries: [], head: 0 }));
    const seq = ++log.last;
    log.entries.push({ seq, payload, at: this.now() });
    trim(log, rule, this.now());
    return seq;
  }

  read(topic: string, since: number, limit: number): HistoryPage {
    const log = this.topics.get(topic);
    const rule = this.rules.ruleFor(topic);
    if (!log) return { first: null, current: 0, entries: [] };
    if (rule) trim(log, rule, this.now());
    const retained = log.entries.length - log.head;
    if (retained === 0) return { first: null, current: log.last, entries: [] };
    const first = log.entries[log.head].seq;
    // Seqs are consecutive from `first`, so the start is an index, not a search.
    const from = log.head + Math.max(0, since + 1 - first);
    const entries = log.entries.slice(from, from + Math.max(0, limit)).map(({ seq, payload }) => ({ seq, payload }));
    return { first, current: log.last, entries };
  }
}

function trim(log: TopicLog, rule: HistoryRule, now: number): void {
  const excess = log.entries.length - log.head - rule.maxLength;
  if (excess > 0) log.head += excess;
  if (rule.maxAgeSeconds > 0) {
    const cutoff = now - rule.maxAgeSeconds * 1000;
    while (log.head < log.entries.length && log.entries[log.head].at < cutoff) log.head++;
  }
  // Drop the dead prefix once it is at least half the array: amortised O(1) per append.
  if (log.head > 0 && log.head * 2 >= log.entries.length) {
    log.entries = log.entries.slice(log.head);
    log.head = 0;
  }
}
