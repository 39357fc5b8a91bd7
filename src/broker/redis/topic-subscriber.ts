import type { BrokerState } from '../broker';

/**
 * The receiving side of the Redis broker: one subscriber connection
 * (standalone, Sentinel) or one per cluster master (sharded pub/sub). Messages
 * go to the handler given when it is opened, as (channel, message) bytes.
 */
export interface TopicSubscriber {
  /** Resolves once Redis confirmed every channel of the topic on the current connection(s). */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): void;
  /**
   * Resolves when Redis answered a PING on every connection that carries the topic's channels:
   * it queues that answer behind the messages it already pushed there, and ioredis hands those
   * to the message handler before it settles the PING.
   */
  fence(topic: string): Promise<void>;
  readonly state: BrokerState;
  readonly reconnects: number;
  /** (S)SUBSCRIBE and (S)UNSUBSCRIBE commands sent so far (batched), for metrics and tests. */
  readonly commandsSent: number;
  close(): void;
}

export type RawMessageHandler = (channel: Buffer, message: Buffer) => void;
