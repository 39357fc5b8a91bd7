import type { BrokerSubscriber } from '../broker/broker';
import { baseTopic } from '../history/envelope';
import { BROADCAST_TOPIC } from '../protocol/topics';

/**
 * Tells the broker which client topics have local listeners. A client topic may
 * be held through several uWS topics (raw "t", envelope "\0env:t", recovering
 * "\0hold:t"); the worker stays subscribed in Redis while any of them has a socket.
 */
export class TopicInterest {
  /** Client topic -> number of its uWS topics that have at least one socket. */
  private readonly held = new Map<string, number>();

  /** `onLapse` hears of a topic the worker stopped receiving (cached history reads of it go stale). */
  constructor(private readonly subscriber: BrokerSubscriber, private readonly onLapse?: (topic: string) => void) {}

  /** The uWS `subscription` handler: called when a uWS topic's socket count changes. */
  onSubscription(uwsTopic: string, newCount: number, oldCount: number): void {
    const topic = baseTopic(uwsTopic);
    if (topic === BROADCAST_TOPIC) return; // pinned for the worker's lifetime
    if (oldCount === 0 && newCount > 0) {
      const n = (this.held.get(topic) ?? 0) + 1;
      this.held.set(topic, n);
      if (n === 1) this.subscriber.subscribe(topic);
    } else if (oldCount > 0 && newCount === 0) {
      const n = (this.held.get(topic) ?? 1) - 1;
      if (n > 0) return void this.held.set(topic, n);
      this.held.delete(topic);
      this.subscriber.unsubscribe(topic);
      this.onLapse?.(topic);
    }
  }
}
