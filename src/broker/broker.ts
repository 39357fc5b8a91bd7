/**
 * The broker carries published messages to every gateway worker.
 *
 * Delivery guarantee: a message published while the broker is connected is
 * delivered at most once to every client subscribed to its topic at that moment,
 * on any worker of any herald sharing the broker. Messages published while a
 * subscriber is disconnected are not replayed by this layer.
 */

/** `unresponsive`: connected, but the broker does not answer (e.g. a stopped Redis); treated as down. */
export type BrokerState = 'connecting' | 'connected' | 'unresponsive' | 'disconnected' | 'closed';

/** Called once per message per worker; `payload` is the exact published bytes. */
export type MessageHandler = (topic: string, payload: Buffer) => void;

export type StateHandler = (state: BrokerState, detail?: string) => void;

/** Thrown by publish() when the message cannot be handed to the broker now. */
export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

/** The publishing side, owned by the primary (admin API, clock) and scripts. */
export interface BrokerPublisher {
  readonly state: BrokerState;
  /** Resolves once the broker has taken the message; rejects with BrokerUnavailableError otherwise. */
  publish(topic: string, payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** The receiving side, one per gateway worker. */
export interface BrokerSubscriber {
  readonly state: BrokerState;
  /** Reconnections since start, for health and metrics. */
  readonly reconnects: number;
  /** True when the subscriber must be told which topics have local subscribers. */
  readonly needsTopicInterest: boolean;
  /** Starts receiving; never rejects because the broker is down (it keeps retrying). */
  start(): void;
  subscribe(topic: string): void;
  /** Resolves once messages published to the topic from now on are sure to arrive (brokers that support history). */
  whenSubscribed?(topic: string): Promise<void>;
  unsubscribe(topic: string): void;
  close(): Promise<void>;
}
