/**
 * A broker whose timing the test controls, for the orderings that are hard to
 * hit over real sockets: published messages wait in flight until deliver(),
 * and history reads wait until releaseHistory() when holdHistory is set (the
 * read then sees the store as it is at release). A fence is answered once the
 * messages in flight when it was asked have been delivered or dropped, as Redis
 * answers a PING on a subscriber connection behind the messages pushed there.
 */
import type { Broker, BrokerHandlers, BrokerMessage, BrokerState, HistoryPage, PublishResult } from '../../src/broker/broker';

export class ScriptedBroker implements Broker {
  state: BrokerState = 'connected';
  readonly reconnects = 0;
  handlers?: BrokerHandlers;
  readonly inFlight: BrokerMessage[] = [];
  readonly subscribed = new Set<string>();
  historyReads = 0;
  holdHistory = false;
  private readonly store = new Map<string, { seq: number; payload: Buffer }[]>();
  private readonly current = new Map<string, number>();
  private held: (() => void)[] = [];
  /** fence() calls so far. */
  fences = 0;
  /** When set, fence() rejects (the connection that delivers the topic is down). */
  failFence = false;
  /** When set, fence() never answers (a broker that stalled). */
  holdFence = false;
  /** Fences not yet answered, each with the number of in-flight messages still ahead of it. */
  private fenceWaits: { ahead: number; answer(): void }[] = [];

  constructor(private readonly historyTopics: (topic: string) => boolean) {}

  /** Use as the hub's openBroker. */
  readonly open = (handlers: BrokerHandlers): Broker => {
    this.handlers = handlers;
    return this;
  };

  hasHistory(topic: string): boolean {
    return this.historyTopics(topic);
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    if (!this.hasHistory(topic)) {
      this.inFlight.push({ topic, payload });
      return {};
    }
    const seq = (this.current.get(topic) ?? 0) + 1;
    this.current.set(topic, seq);
    const log = this.store.get(topic) ?? [];
    log.push({ seq, payload });
    this.store.set(topic, log);
    this.inFlight.push({ topic, seq, payload });
    return { seq };
  }

  /** Hands up to `n` in-flight messages to the hub, oldest first. */
  deliver(n = Infinity): void {
    while (n-- > 0 && this.inFlight.length > 0) {
      this.handlers!.onMessage(this.inFlight.shift()!);
      this.passed(1);
    }
  }

  /** Loses every in-flight message: published before this worker subscribed, Redis never sends it here. */
  drop(): void {
    const lost = this.inFlight.splice(0).length;
    this.passed(lost);
  }

  async fence(): Promise<void> {
    this.fences++;
    if (this.failFence) throw new Error('scripted fence failure');
    if (this.holdFence) return new Promise<void>(() => {});
    if (this.inFlight.length === 0) return;
    return new Promise<void>((answer) => this.fenceWaits.push({ ahead: this.inFlight.length, answer }));
  }

  private passed(count: number): void {
    for (const wait of this.fenceWaits) wait.ahead -= count;
    const answered = this.fenceWaits.filter((wait) => wait.ahead <= 0);
    this.fenceWaits = this.fenceWaits.filter((wait) => wait.ahead > 0);
    for (const wait of answered) wait.answer();
  }

  /** Drops retained messages below `keepFrom` (history trimmed by length or age). */
  trim(topic: string, keepFrom: number): void {
    this.store.set(topic, (this.store.get(topic) ?? []).filter((e) => e.seq >= keepFrom));
  }

  /**
   * The broker forgets every message of the topic after `keepUpTo` and hands those seqs out again, as a
   * promoted Redis replica does when the old master acknowledged writes it never replicated.
   */
  loseAfter(topic: string, keepUpTo: number): void {
    this.store.set(topic, (this.store.get(topic) ?? []).filter((e) => e.seq <= keepUpTo));
    this.current.set(topic, keepUpTo);
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryPage> {
    this.historyReads++;
    if (this.holdHistory) await new Promise<void>((resolve) => this.held.push(resolve));
    const log = this.store.get(topic) ?? [];
    return {
      first: log[0]?.seq ?? null,
      current: this.current.get(topic) ?? 0,
      entries: log.filter((e) => e.seq > since).slice(0, limit),
    };
  }

  releaseHistory(): void {
    const held = this.held;
    this.held = [];
    for (const resolve of held) resolve();
  }

  /** When set, subscribe() never confirms (a broker that is down). */
  holdSubscribe = false;

  async subscribe(topic: string): Promise<void> {
    this.subscribed.add(topic);
    if (this.holdSubscribe) await new Promise<void>(() => {});
  }

  async unsubscribe(topic: string): Promise<void> {
    this.subscribed.delete(topic);
  }

  async close(): Promise<void> {
    this.state = 'closed';
  }
}
