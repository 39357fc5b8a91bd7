import { isUtf8 } from 'node:buffer';
import type { WorkerStats } from './worker-stats';

/** What the fan-out needs from the transport: the uWS app satisfies it. */
export interface TopicSink {
  publish(topic: string, message: Uint8Array, isBinary: boolean): boolean;
  numSubscribers(topic: string): number;
}

/**
 * Hands each broker message to the transport exactly once per worker: one
 * UTF-8 check, one topic publish, no loop over sockets in JavaScript.
 */
export class Fanout {
  constructor(private readonly sink: TopicSink, private readonly stats: WorkerStats) {}

  deliver(topic: string, payload: Buffer): void {
    const stats = this.stats;
    stats.messagesPublished++;
    const recipients = this.sink.numSubscribers(topic);
    if (recipients === 0) return;
    const started = process.hrtime.bigint();
    // Text frames for valid UTF-8 so browsers get strings; anything else goes out as binary, unchanged.
    this.sink.publish(topic, payload, !isUtf8(payload));
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    stats.messagesDelivered += recipients;
    stats.lastFanoutMicros = micros;
    if (micros > stats.maxFanoutMicros) stats.maxFanoutMicros = micros;
  }
}
