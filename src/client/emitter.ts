/** Listener maps: event name -> listener signature. */
export type EventMap<E> = { [K in keyof E]: (...args: never[]) => void };

const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): unknown };

/**
 * A typed event emitter with no platform dependency. A listener that throws
 * does not stop the others or the client: its error is rethrown on a fresh
 * stack, where the platform reports uncaught errors.
 */
export class Emitter<E extends EventMap<E>> {
  private readonly listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<E[K]>) => void)(...args);
      } catch (err) {
        timers.setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
