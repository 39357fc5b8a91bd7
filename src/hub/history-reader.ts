import type { Broker } from '../broker/broker';
import { encodeMessage } from '../protocol/envelope';

/** One recovered message, already in envelope form (encoded once per worker, sent to many sockets). */
export interface HistoryItem {
  seq: number;
  frame: string;
}

export interface HistoryView {
  /** Last seq given out for the topic: read from the broker, advanced by live messages seen since. */
  current: number;
  /** Messages with seq >= from, in order. */
  items: HistoryItem[];
  /** The broker's page was full: more may follow from items[last].seq + 1. */
  more: boolean;
}

interface Page {
  current: number;
  items: HistoryItem[];
  full: boolean;
}

interface ReadEntry {
  topic: string;
  key: string;
  page: Promise<Page>;
  /** Live messages of the topic that reached this worker after the read was dispatched. */
  live: HistoryItem[];
  timer: NodeJS.Timeout;
}

const LIVE_LOG_LIMIT = 10_000;

/**
 * Reads a topic's history for recovering connections, one broker read per
 * (topic, from) per cache period per worker, however many sockets ask.
 *
 * Why a cached read stays exact: the entry starts logging the topic's live
 * messages (which this worker receives, being subscribed) before the read is
 * dispatched. A socket that joins later gets the broker's page plus that live
 * log, which together reach up to "now", and its own live buffer takes over
 * from there. So a reconnect storm costs one history read, not one per client.
 */
export class HistoryReader {
  /** History reads sent to the broker, for stats and tests. */
  brokerReads = 0;
  private readonly entries = new Map<string, ReadEntry>();
  private readonly byTopic = new Map<string, Set<ReadEntry>>();

  constructor(
    private readonly broker: Pick<Broker, 'history'>,
    private readonly pageSize: number,
    private readonly cacheMs: number,
  ) {}

  /** True while a read of the topic collects live messages (the fan-out then calls noteLive). */
  watches(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  noteLive(topic: string, seq: number, frame: string): void {
    const set = this.byTopic.get(topic);
    if (!set) return;
    for (const entry of set) {
      if (entry.live.length >= LIVE_LOG_LIMIT) this.drop(entry); // later joiners read afresh
      else entry.live.push({ seq, frame });
    }
  }

  /** Call before awaiting: the caller must already be subscribed to the topic in the broker. */
  async read(topic: string, from: number): Promise<HistoryView> {
    const key = `${topic}\u0000${from}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const created: ReadEntry = { topic, key, live: [], page: this.fetch(topic, from), timer: setTimeout(() => this.drop(created), this.cacheMs) };
      created.timer.unref();
      entry = created;
      this.entries.set(key, entry);
      let set = this.byTopic.get(topic);
      if (!set) this.byTopic.set(topic, (set = new Set()));
      set.add(entry);
    }
    const live = entry.live;
    let page: Page;
    try {
      page = await entry.page;
    } catch (err) {
      this.drop(entry);
      throw err;
    }
    // Runs in the same tick as the caller's continuation, so nothing new can arrive in between.
    if (page.full) return { current: page.current, items: page.items, more: true };
    let last = page.items.length > 0 ? page.items[page.items.length - 1].seq : from - 1;
    let current = page.current;
    const items = page.items.slice();
    for (const m of live) {
      if (m.seq > last) {
        items.push(m);
        last = m.seq;
        current = Math.max(current, m.seq);
      }
    }
    return { current, items, more: false };
  }

  /** Forget cached reads of a topic: the worker's broker subscription to it lapsed, so their live logs may have holes. */
  invalidate(topic: string): void {
    for (const entry of this.byTopic.get(topic) ?? []) this.drop(entry);
  }

  invalidateAll(): void {
    for (const entry of [...this.entries.values()]) this.drop(entry);
  }

  private drop(entry: ReadEntry): void {
    if (this.entries.get(entry.key) !== entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(entry.key);
    const set = this.byTopic.get(entry.topic);
    set?.delete(entry);
    if (set?.size === 0) this.byTopic.delete(entry.topic);
  }

  private async fetch(topic: string, from: number): Promise<Page> {
    this.brokerReads++;
    const page = await this.broker.history(topic, from - 1, this.pageSize);
    const items = page.entries.map(({ seq, payload }) => ({ seq, frame: encodeMessage(topic, seq, payload) }));
    return { current: page.current, items, full: page.entries.length >= this.pageSize };
  }
}
