import { chunks, TopicWaiters } from './topic-waiters';

/**
 * The topics a worker wants from Redis and which of them Redis has confirmed.
 * Subscribe and unsubscribe calls made in one event-loop tick are coalesced
 * into one SUBSCRIBE and one UNSUBSCRIBE with many channels (at most
 * MAX_CHANNELS_PER_COMMAND each), so a burst of connects costs a few Redis
 * commands, not one per connection.
 *
 * Confirmation is what recovery relies on: a topic counts as confirmed only
 * once Redis answered the SUBSCRIBE on the current connection. A lost
 * connection unconfirms everything; resubscribeAll() after it reconnects
 * confirms the wanted topics again.
 */

/** What the set needs of a Redis connection in subscriber mode. */
export interface SubscribeCommands {
  /** False while the connection is down: commands wait for resubscribeAll() instead of failing. */
  readonly ready: boolean;
  subscribe(channels: string[]): Promise<unknown>;
  unsubscribe(channels: string[]): Promise<unknown>;
}

export class SubscriptionSet {
  private readonly wanted = new Set<string>();
  private readonly confirmed = new Set<string>();
  private readonly waiters = new TopicWaiters();
  private toSubscribe = new Set<string>();
  private toUnsubscribe = new Set<string>();
  private flushScheduled = false;
  /** SUBSCRIBE/UNSUBSCRIBE commands sent, for tests and metrics. */
  commandsSent = 0;

  constructor(
    private readonly commands: SubscribeCommands,
    /** The channels that carry a topic (its raw channel, plus the sequenced one when it has history). */
    private readonly channelsOf: (topic: string) => string[],
    private readonly onError: (err: Error, topics: string[]) => void,
    private readonly defer: (flush: () => void) => void = setImmediate,
  ) {}

  get size(): number {
    return this.wanted.size;
  }

  isConfirmed(topic: string): boolean {
    return this.confirmed.has(topic);
  }

  /**
   * Resolves once Redis confirmed the topic (or it was unsubscribed meanwhile); rejects when the
   * SUBSCRIBE failed. The topic stays wanted either way until unsubscribed: a reconnect retries it.
   */
  subscribe(topic: string): Promise<void> {
    if (this.confirmed.has(topic)) return Promise.resolve();
    const fresh = !this.wanted.has(topic);
    this.wanted.add(topic);
    if (fresh) this.queue(this.toSubscribe, topic);
    return this.waiters.wait(topic);
  }

  unsubscribe(topic: string): void {
    if (!this.wanted.delete(topic)) return;
    this.confirmed.delete(topic);
    this.waiters.release(topic);
    this.queue(this.toUnsubscribe, topic);
  }

  /** The connection dropped: nothing is confirmed until resubscribeAll() after it is back. */
  lost(): void {
    this.confirmed.clear();
  }

  /** After a reconnect: subscribe every wanted topic again (the new connection holds none). */
  resubscribeAll(): void {
    this.toUnsubscribe.clear();
    for (const topic of this.wanted) this.toSubscribe.add(topic);
    this.flush();
  }

  private queue(set: Set<string>, topic: string): void {
    set.add(topic);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.defer(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    // While disconnected the wanted set is the truth; resubscribeAll() sends it on reconnect.
    if (!this.commands.ready) return;
    // A topic subscribed and unsubscribed in the same tick sends nothing it does not need.
    const subs = [...this.toSubscribe].filter((t) => this.wanted.has(t));
    const unsubs = [...this.toUnsubscribe].filter((t) => !this.wanted.has(t));
    this.toSubscribe = new Set();
    this.toUnsubscribe = new Set();
    for (const batch of chunks(subs)) {
      this.commandsSent++;
      this.commands.subscribe(batch.flatMap(this.channelsOf)).then(
        () => {
          for (const topic of batch) {
            // An unsubscribe since voids the confirmation.
            if (!this.wanted.has(topic)) continue;
            this.confirmed.add(topic);
            this.waiters.release(topic);
          }
        },
        (err: Error) => {
          // A connection lost mid-command is retried by resubscribeAll(); only a refusal fails the waiters.
          if (!this.commands.ready) return;
          this.onError(err, batch);
          for (const topic of batch) this.waiters.release(topic, err);
        },
      );
    }
    for (const batch of chunks(unsubs)) {
      this.commandsSent++;
      this.commands.unsubscribe(batch.flatMap(this.channelsOf)).catch((err: Error) => this.onError(err, batch));
    }
  }
}
