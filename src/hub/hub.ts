import type { Broker, BrokerHandlers, BrokerMessage, BrokerState } from '../broker/broker';
import type { Logger } from '../logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { BROADCAST_TOPIC } from '../protocol/topics';
import { Fanout, type TopicSink } from './fanout';
import { HistoryReader } from './history-reader';
import { RecoveryManager } from './recovery';
import { TopicInterest } from './topic-interest';

/** Messages per history page when recovering. */
export const HISTORY_PAGE_SIZE = 1000;

export interface HubDeps {
  /** The transport's topic publish (the uWS app). */
  sink: TopicSink;
  stats: WorkerStats;
  log: Logger;
  /** Opens the worker's broker with the hub's handlers attached. */
  openBroker(handlers: BrokerHandlers): Broker;
  /** How long one history read serves every connection recovering the same topic from the same seq. */
  readCacheMs: number;
  /** The fan-out tick: told after each message that reached at least one socket. */
  onSent?: () => void;
  /** Told of every broker message with the number of sockets it was handed to. */
  onMessage?: (message: BrokerMessage, sockets: number) => void;
  onBrokerState?: (state: BrokerState, detail?: string) => void;
}

/**
 * One worker's socket-free core: broker messages in, one topic publish per
 * message and format out; which topics the broker must deliver here; and the
 * recovery of envelope connections from history. It sees the transport only
 * through TopicSink and RecoverySocket, so all of it runs in memory in tests.
 */
export class Hub {
  readonly broker: Broker;
  readonly recovery: RecoveryManager;
  readonly interest: TopicInterest;
  private readonly reader: HistoryReader;
  private readonly fanout: Fanout;

  constructor(private readonly deps: HubDeps) {
    const { log } = deps;
    // The broker calls back only from I/O, after this constructor has returned.
    this.broker = deps.openBroker({ onMessage: (message) => this.deliver(message), onState: (state, detail) => this.onBrokerState(state, detail) });
    this.reader = new HistoryReader(this.broker, HISTORY_PAGE_SIZE, deps.readCacheMs);
    this.recovery = new RecoveryManager({ broker: this.broker, reader: this.reader, log });
    this.fanout = new Fanout(deps.sink, deps.stats, this.recovery, deps.onSent, deps.onMessage);
    this.interest = new TopicInterest(
      this.broker,
      (topic) => {
        this.reader.invalidate(topic);
        this.recovery.forget(topic);
      },
      (topic, err) => log.warn({ topic, err: err.message }, 'broker subscription change failed'),
    );
    deps.stats.brokerState = this.broker.state;
  }

  /** Every worker receives broadcast for its whole life. */
  start(): Promise<void> {
    return this.broker.subscribe(BROADCAST_TOPIC);
  }

  /** Stops recoveries and cached reads, then closes the broker. */
  async close(): Promise<void> {
    this.recovery.stop();
    this.reader.invalidateAll();
    await this.broker.close();
  }

  /** A message that trips a bug is logged and dropped: thrown into the broker's I/O it would end the worker and all its connections. */
  private deliver(message: BrokerMessage): void {
    try {
      this.fanout.deliver(message);
    } catch (err) {
      this.deps.log.error({ topic: message.topic, bytes: message.payload.length, err: (err as Error).stack ?? String(err) }, 'message delivery failed; dropped');
    }
  }

  private onBrokerState(state: BrokerState, detail?: string): void {
    this.deps.stats.brokerState = state;
    this.deps.stats.brokerReconnects = this.broker?.reconnects ?? 0;
    // A gap in the live stream makes cached reads unsafe to share.
    if (state !== 'connected') this.reader?.invalidateAll();
    this.deps.onBrokerState?.(state, detail);
  }
}
