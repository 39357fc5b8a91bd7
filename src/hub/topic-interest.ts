import type { Broker } from '../broker/broker';
import { BROADCAST_TOPIC } from '../protocol/topics';
import { baseTopic } from './topic-names';

/**
 * Tells the broker which client topics have local listeners. A client topic may
 * be held through several uWS topics (raw "t", envelope "\0env:t", recovering
 * "\0hold:t"); the worker stays subscribed in the broker while any of them has a
 * socket. `broadcast` is held for the worker's whole life.
 */
export class TopicInterest {
  /** Client topic -> number of its uWS topics that have at least one socket. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly broker: Pick<Broker, 'subscribe' | 'unsubscribe'>,
    /** Hears of a topic the worker stopped receiving (cached history reads of it go stale). */
    private readonly onLapse: (topic: string) => void,
    private readonly onError: (topic: string, err: Error) => void,
  ) {}

  /** Topics this worker currently receives from the broker, broadcast included. */
  get size(): number {
    return this.held.size + 1;
  }

  /** The uWS `subscription` handler: called when a uWS topic's socket count changes. */
  onSubscription(uwsTopic: string, newCount: number, oldCount: number): void {
    const topic = baseTopic(uwsTopic);
    if (topic === BROADCAST_TOPIC) return;
    if (oldCount === 0 && newCount > 0) {
      const n = (this.held.get(topic) ?? 0) + 1;
      this.held.set(topic, n);
      if (n === 1) this.broker.subscribe(topic).catch((err: Error) => this.onError(topic, err));
    } else if (oldCount > 0 && newCount === 0) {
      const n = (this.held.get(topic) ?? 1) - 1;
      if (n > 0) return void this.held.set(topic, n);
      this.held.delete(topic);
      this.broker.unsubscribe(topic).catch((err: Error) => this.onError(topic, err));
      this.onLapse(topic);
    }
  }
}
