import { BrokerUnavailableError, type Broker, type BrokerHandlers, type BrokerState, type HistoryPage, type PublishResult } from './broker';
import type { HistoryRules } from './history-rules';
import type { MemoryHistory } from './memory-history';

/**
 * The embedded broker: one box, no Redis. The primary process owns seqs and
 * history (LocalBrokerHost) and relays every message to every worker over the
 * IPC channel; each worker's LocalBrokerClient receives them and asks the
 * primary for history. IPC keeps order per channel, so a history answer reaches
 * a worker after every message published before the read was served.
 */

/** The messages the local broker sends over IPC (structured clone: Buffers arrive as Uint8Arrays). */
export type LocalBrokerWire =
  | { type: 'broker:message'; topic: string; seq?: number; payload: Uint8Array }
  | { type: 'broker:publish'; id: number; topic: string; payload: Uint8Array }
  | { type: 'broker:published'; id: number; seq?: number; error?: string }
  | { type: 'broker:history'; id: number; topic: string; since: number; limit: number }
  | { type: 'broker:page'; id: number; page?: HistoryPage; error?: string };

export const LOCAL_BROKER_TYPES: readonly LocalBrokerWire['type'][] = ['broker:message', 'broker:publish', 'broker:published', 'broker:history', 'broker:page'];

/** IPC hands Buffers over as plain Uint8Arrays; view them without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function revivePage(page: HistoryPage): HistoryPage {
  return { ...page, entries: page.entries.map((e) => ({ seq: e.seq, payload: asBuffer(e.payload) })) };
}

/** The primary's side: publishes, keeps history in memory, answers workers' requests. */
export class LocalBrokerHost implements Broker {
  readonly state: BrokerState = 'connected';
  readonly reconnects = 0;

  /** `toWorkers` hands one message to every live worker. */
  constructor(private readonly memory: MemoryHistory, private readonly toWorkers: (msg: LocalBrokerWire) => void) {}

  hasHistory(topic: string): boolean {
    return this.memory.hasHistory(topic);
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    return this.publishNow(topic, payload);
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryPage> {
    return this.memory.read(topic, since, limit);
  }

  /** The primary holds no client sockets: it receives nothing. */
  async subscribe(): Promise<void> {}

  async unsubscribe(): Promise<void> {}

  /** Nothing is delivered here, so nothing is outstanding. */
  async fence(): Promise<void> {}

  async close(): Promise<void> {}

  /** Serves one request from a worker; `reply` answers that worker only. False when `msg` is not one. */
  serve(msg: LocalBrokerWire, reply: (answer: LocalBrokerWire) => void): boolean {
    if (msg.type === 'broker:publish') {
      const { seq } = this.publishNow(msg.topic, asBuffer(msg.payload));
      reply({ type: 'broker:published', id: msg.id, ...(seq === undefined ? {} : { seq }) });
    } else if (msg.type === 'broker:history') {
      reply({ type: 'broker:page', id: msg.id, page: this.memory.read(msg.topic, msg.since, msg.limit) });
    } else return false;
    return true;
  }

  private publishNow(topic: string, payload: Buffer): PublishResult {
    const seq = this.memory.append(topic, payload);
    this.toWorkers(seq === undefined ? { type: 'broker:message', topic, payload } : { type: 'broker:message', topic, seq, payload });
    return seq === undefined ? {} : { seq };
  }
}

interface Waiter {
  resolve(answer: LocalBrokerWire): void;
  reject(err: Error): void;
}

/**
 * A worker's side. Every message reaches every worker over IPC; the client hands
 * on only those of topics it subscribed to, so subscriptions cost no IPC.
 */
export class LocalBrokerClient implements Broker {
  readonly reconnects = 0;
  private current: BrokerState = 'connected';
  private readonly topics = new Set<string>();
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  constructor(
    private readonly rules: HistoryRules,
    private readonly toPrimary: (msg: LocalBrokerWire) => void,
    private readonly handlers: BrokerHandlers,
  ) {}

  get state(): BrokerState {
    return this.current;
  }

  hasHistory(topic: string): boolean {
    return this.rules.ruleFor(topic) !== undefined;
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    const answer = await this.ask((id) => ({ type: 'broker:publish', id, topic, payload }));
    if (answer.type !== 'broker:published' || answer.error) throw new BrokerUnavailableError(`local publish failed: ${(answer as { error?: string }).error}`);
    return answer.seq === undefined ? {} : { seq: answer.seq };
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryPage> {
    const answer = await this.ask((id) => ({ type: 'broker:history', id, topic, since, limit }));
    if (answer.type !== 'broker:page' || !answer.page) throw new Error(`local history read failed: ${(answer as { error?: string }).error}`);
    return revivePage(answer.page);
  }

  async subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  /** At once: IPC keeps order, so the answer that told this worker of a message came after the message itself. */
  async fence(): Promise<void> {}

  /** Handles one message from the primary; false when it is not the broker's. */
  receive(msg: LocalBrokerWire): boolean {
    if (msg.type === 'broker:message') {
      if (!this.topics.has(msg.topic)) return true;
      this.handlers.onMessage(msg.seq === undefined ? { topic: msg.topic, payload: asBuffer(msg.payload) } : { topic: msg.topic, seq: msg.seq, payload: asBuffer(msg.payload) });
    } else if (msg.type === 'broker:published' || msg.type === 'broker:page') {
      const waiter = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      waiter?.resolve(msg);
    } else return false;
    return true;
  }

  /** The link to the primary is gone: nothing more arrives, pending requests fail. */
  disconnected(): void {
    this.setState('disconnected');
    for (const waiter of this.waiting.values()) waiter.reject(new BrokerUnavailableError('the primary process is gone'));
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.setState('closed');
    for (const waiter of this.waiting.values()) waiter.reject(new BrokerUnavailableError('broker closed'));
    this.waiting.clear();
  }

  private ask(request: (id: number) => LocalBrokerWire): Promise<LocalBrokerWire> {
    if (this.current !== 'connected') return Promise.reject(new BrokerUnavailableError(`local broker ${this.current}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.toPrimary(request(id));
    });
  }

  private setState(state: BrokerState): void {
    if (this.current === state || this.current === 'closed') return;
    this.current = state;
    this.handlers.onState?.(state);
  }
}
