import type { CommandErrorBody } from '../protocol/wire.js';
import { SeqCursor } from './cursor.js';
import { Emitter } from './emitter.js';
import type { HeraldMessage, SubscriptionEvents, TokenSource } from './types.js';

export interface SubscribeOptions<T> {
  /** Resume after this seq (e.g. one the application stored): what was missed is replayed first. */
  since?: number;
  /** A per-topic JWT, when the connection's token does not allow the topic. */
  token?: TokenSource;
  /** Turns each payload into what listeners get (e.g. JSON.parse). */
  decode?: (data: string | Uint8Array) => T;
}

export type SubscriptionState = 'pending' | 'subscribed' | 'unsubscribed' | 'failed';

/**
 * One topic the client holds. It keeps its position across reconnects, so
 * the client resubscribes with `since` and the application sees every message
 * of a topic with history once, in order.
 */
export class Subscription<T = string | Uint8Array> {
  readonly cursor: SeqCursor;
  private current: SubscriptionState = 'pending';
  private readonly events = new Emitter<SubscriptionEvents<T>>();

  /** `leave` asks the client to unsubscribe. `byServer`: created by an admin subscribe, not by the application. */
  constructor(
    readonly topic: string,
    private readonly options: SubscribeOptions<T>,
    private readonly leave: (subscription: Subscription<T>) => void,
    readonly byServer = false,
  ) {
    this.cursor = new SeqCursor(options.since);
  }

  get state(): SubscriptionState {
    return this.current;
  }

  /** The last seq delivered (topics with history): store it to resume later with `since`. */
  get lastSeq(): number | undefined {
    return this.cursor.last;
  }

  on<K extends keyof SubscriptionEvents<T>>(event: K, listener: SubscriptionEvents<T>[K]): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof SubscriptionEvents<T>>(event: K, listener: SubscriptionEvents<T>[K]): void {
    this.events.off(event, listener);
  }

  unsubscribe(): void {
    if (this.current === 'unsubscribed' || this.current === 'failed') return;
    this.current = 'unsubscribed';
    this.leave(this);
    this.events.emit('unsubscribed', 'client');
  }

  /** The per-topic token to send, fetched afresh when it is a function. */
  async token(): Promise<string | undefined> {
    const source = this.options.token;
    return typeof source === 'function' ? source() : source;
  }

  // The methods below are the client's: they move the state and tell listeners.

  /** The connection dropped: the subscription waits to be sent again. */
  reset(): void {
    if (this.current === 'subscribed') this.current = 'pending';
    this.cursor.resyncing = false;
  }

  confirmed(): void {
    if (this.current !== 'pending') return;
    this.current = 'subscribed';
    this.events.emit('subscribed');
  }

  failed(error: CommandErrorBody): void {
    this.current = 'failed';
    this.events.emit('error', error);
  }

  endedByServer(): void {
    this.current = 'unsubscribed';
    this.events.emit('unsubscribed', 'server');
  }

  deliver(message: HeraldMessage): void {
    const data = this.options.decode ? this.options.decode(message.data) : (message.data as unknown as T);
    this.events.emit('message', message.seq === undefined ? { topic: message.topic, data } : { topic: message.topic, seq: message.seq, data });
  }

  emit<K extends 'gap' | 'recovered' | 'presence'>(event: K, ...args: Parameters<SubscriptionEvents<T>[K]>): void {
    this.events.emit(event, ...args);
  }
}
