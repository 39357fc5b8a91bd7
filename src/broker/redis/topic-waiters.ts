/**
 * What the subscription bookkeepers share: callers waiting for a topic's
 * subscription to be confirmed, and the cap on channels per (S)SUBSCRIBE.
 */

/** Channels named in one SUBSCRIBE/SSUBSCRIBE (and the unsubscribe commands). */
export const MAX_CHANNELS_PER_COMMAND = 1000;

export function* chunks<T>(items: T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += MAX_CHANNELS_PER_COMMAND) yield items.slice(i, i + MAX_CHANNELS_PER_COMMAND);
}

type Waiter = { resolve(): void; reject(err: Error): void };

export class TopicWaiters {
  private readonly waiting = new Map<string, Waiter[]>();

  /** Settles at the next release() of the topic. */
  wait(topic: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(topic);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(topic, [{ resolve, reject }]);
    });
  }

  /** Resolves (or, with an error, rejects) everyone waiting for the topic. */
  release(topic: string, err?: Error): void {
    const list = this.waiting.get(topic);
    if (!list) return;
    this.waiting.delete(topic);
    for (const waiter of list) {
      if (err) waiter.reject(err);
      else waiter.resolve();
    }
  }
}
