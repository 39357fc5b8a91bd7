import type { Broker, BrokerHandlers, BrokerMessage, BrokerState } from '../broker/broker';
import type { Logger } from '../logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { CONTROL_TOPIC } from '../protocol/control';
import type { TopicPatterns } from '../protocol/topic-patterns';
import { BROADCAST_TOPIC } from '../protocol/topics';
import type { ClientSocket } from './client-socket';
import { CommandRunner, type TokenAuthority } from './commands';
import { ConnectionTopics } from './connection-topics';
import { ControlHandler } from './control';
import { Fanout, type TopicSink } from './fanout';
import { HistoryReader } from './history-reader';
import { PresenceTracker, type PresenceUpdate } from './presence-tracker';
import { RecoveryManager } from './recovery';
import { TopicInterest } from './topic-interest';
import { UserIndex } from './user-index';

/** Messages per history page when recovering. */
export const HISTORY_PAGE_SIZE = 1000;
/** How long a subscribe (command or admin) waits for the broker to confirm the topic. */
export const SUBSCRIBE_CONFIRM_MS = 5000;

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
  /** topics.maxPerConnection, for subscribe commands. */
  maxTopics?: number;
  /** How long a subscribe waits for the broker's confirmation (SUBSCRIBE_CONFIRM_MS unless a test shortens it). */
  subscribeConfirmMs?: number;
  /** Token checks for commands and the user index; absent when auth is off. */
  auth?: TokenAuthority;
  /** Presence-tracked topics and where their batched counts go; absent when presence is off. */
  presence?: { patterns: TopicPatterns; flushMs: number; report(updates: PresenceUpdate[]): void };
}

/**
 * One worker's socket-free core: broker messages in, one topic publish per
 * message and format out; which topics the broker must deliver here; the
 * recovery of envelope connections from history; the topics connections
 * change after opening (commands, admin control); presence counts. It sees
 * the transport only through TopicSink and ClientSocket, so all of it runs in
 * memory in tests.
 */
export class Hub {
  readonly broker: Broker;
  readonly recovery: RecoveryManager;
  readonly interest: TopicInterest;
  readonly topics: ConnectionTopics;
  readonly commands: CommandRunner;
  readonly control: ControlHandler;
  /** Connections by user, when auth is on. */
  readonly users?: UserIndex<ClientSocket>;
  readonly presence?: PresenceTracker;
  private readonly reader: HistoryReader;
  private readonly fanout: Fanout;

  constructor(private readonly deps: HubDeps) {
    const { log } = deps;
    // The broker calls back only from I/O, after this constructor has returned.
    this.broker = deps.openBroker({
      onMessage: (message) => this.deliver(message),
      onState: (state, detail) => this.onBrokerState(state, detail),
    });
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
    this.topics = new ConnectionTopics({ broker: this.broker, recovery: this.recovery, confirmMs: deps.subscribeConfirmMs ?? SUBSCRIBE_CONFIRM_MS });
    this.commands = new CommandRunner({ topics: this.topics, maxTopics: deps.maxTopics ?? Infinity, auth: deps.auth, log });
    if (deps.auth) this.users = new UserIndex<ClientSocket>();
    this.control = new ControlHandler({ topics: this.topics, sink: deps.sink, users: this.users, log });
    if (deps.presence && !deps.presence.patterns.empty) this.presence = new PresenceTracker(deps.presence.patterns, deps.presence.flushMs, deps.presence.report);
    deps.stats.brokerState = this.broker.state;
  }

  /** Every worker receives broadcast and the control topic for its whole life. */
  async start(): Promise<void> {
    await Promise.all([this.broker.subscribe(BROADCAST_TOPIC), this.broker.subscribe(CONTROL_TOPIC)]);
  }

  /** Presence counts every socket's joins and leaves; topic interest only a topic's first and last socket. */
  get countsEverySubscription(): boolean {
    return this.presence !== undefined;
  }

  /** The uWS `subscription` handler: a socket joined or left a uWS topic (also for each of its topics when it closes). */
  onSubscription(ws: ClientSocket, uwsTopic: string, newCount: number, oldCount: number): void {
    this.interest.onSubscription(uwsTopic, newCount, oldCount);
    this.presence?.onSubscription(ws.getUserData().sub, uwsTopic, newCount, oldCount);
  }

  /** Stops recoveries, cached reads and presence reports, then closes the broker. */
  async close(): Promise<void> {
    this.presence?.stop();
    this.recovery.stop();
    this.reader.invalidateAll();
    await this.broker.close();
  }

  /** A message that trips a bug is logged and dropped: thrown into the broker's I/O it would end the worker and all its connections. */
  private deliver(message: BrokerMessage): void {
    try {
      if (message.topic === CONTROL_TOPIC) this.control.handle(message.payload);
      else this.fanout.deliver(message);
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
