/**
 * The broker contract: it carries published messages to every gateway worker,
 * and it owns sequence numbers and history.
 *
 * Live delivery: a message published while the broker is connected reaches every
 * broker instance whose subscription to its topic was confirmed (subscribe()
 * resolved) before the publish and has stayed up since, at most once and in
 * publish order per topic. Messages published while an instance is disconnected
 * are not replayed to it by the live path.
 *
 * History: a topic matched by a history rule gives each message the next seq of
 * that topic (1, 2, 3, ... never reused, even after the history is trimmed) and
 * keeps it, bounded by the rule's length and age, so a subscriber that missed
 * messages reads them back with history(). A topic without a rule has no seq and
 * no history. Payloads are carried byte for byte, whatever the bytes.
 */

/** `unresponsive`: connected, but the broker did not answer a probe within the command timeout. */
export type BrokerState = 'connecting' | 'connected' | 'unresponsive' | 'disconnected' | 'closed';

export interface BrokerMessage {
  readonly topic: string;
  /** The message's position in its topic; present only when the topic has history. */
  readonly seq?: number;
  /** The published bytes, untouched. */
  readonly payload: Buffer;
}

export interface PublishResult {
  /** The message's seq when its topic has history. */
  seq?: number;
}

export interface HistoryEntry {
  seq: number;
  payload: Buffer;
}

export interface HistoryPage {
  /** Oldest seq still retained, or null when nothing is. */
  first: number | null;
  /** Last seq given out for the topic; 0 when none was. */
  current: number;
  /** Retained messages with seq > since, oldest first, at most `limit` of them. */
  entries: HistoryEntry[];
}

/** What a broker reports back to whoever opened it; attached when the broker is created. */
export interface BrokerHandlers {
  /** Called once per message for each subscribed topic. */
  onMessage(message: BrokerMessage): void;
  /** Connection state changes (health, metrics, and cached history reads that a gap may have voided). */
  onState?(state: BrokerState, detail?: string): void;
}

export interface Broker {
  readonly state: BrokerState;
  /** Reconnections since start, for health and metrics. */
  readonly reconnects: number;
  /** Whether messages of the topic get a seq and are kept. */
  hasHistory(topic: string): boolean;
  /**
   * Resolves once the broker has taken the message, with its seq when the topic has
   * history. Rejects with BrokerUnavailableError when it cannot be handed over now
   * (disconnected, or no answer within the command timeout: then it may still have
   * been published).
   */
  publish(topic: string, payload: Buffer): Promise<PublishResult>;
  /** Messages of a topic with history after `since`; waits through an outage. */
  history(topic: string, since: number, limit: number): Promise<HistoryPage>;
  /**
   * Starts receiving the topic. Resolves once the broker confirmed the subscription,
   * so every message published from then on arrives (while the connection stays up).
   * Idempotent; subscribing to a topic already held resolves at once.
   */
  subscribe(topic: string): Promise<void>;
  /** Stops receiving the topic; a pending subscribe() of it resolves without a guarantee. */
  unsubscribe(topic: string): Promise<void>;
  /**
   * A fence on the topic's live stream: resolves once every message of the topic that this
   * instance learned of before the call (in a history() page or a publish() answer), and
   * that it receives live at all, has been handed to onMessage.
   *
   * Why: at the seam between history and live, recovery holds the last seq history returned
   * and cannot otherwise tell "still on its way" from "never comes" (a message published
   * just before this instance subscribed is in history but never arrives live). Rejects
   * when the broker cannot tell now (the connection that delivers the topic is down).
   */
  fence(topic: string): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by publish() when the message cannot be handed to the broker now. */
export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
  /** True when the broker may have taken the message although it did not confirm it in time. */
  readonly maybePublished: boolean;

  constructor(message: string, maybePublished = false) {
    super(message);
    this.maybePublished = maybePublished;
  }
}
