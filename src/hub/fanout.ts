import { isUtf8 } from 'node:buffer';
import type { BrokerMessage } from '../broker/broker';
import { recordFanout, type WorkerStats } from '../metrics/worker-stats';
import { encodeGap, encodeMessage, type GapNotice } from '../protocol/envelope';
import { envelopeTopic } from './topic-names';

/** What the fan-out needs from the transport: the uWS app satisfies it. */
export interface TopicSink {
  publish(topic: string, message: Uint8Array | string, isBinary: boolean): boolean;
  numSubscribers(topic: string): number;
}

/** Recovery's view of the live stream: every seq, and the whole message for topics it currently wants. */
export interface LiveTap {
  /** A notice when the topic's seq went back (the broker lost messages clients have seen). */
  sequenced(topic: string, seq: number): GapNotice | undefined;
  wants(topic: string): boolean;
  live(topic: string, seq: number | undefined, envelope: string): void;
}

/**
 * Hands each broker message to the transport exactly once per worker and format:
 * one UTF-8 check, one topic publish for raw sockets, and (only when some socket
 * here uses envelopes) one publish of the JSON envelope to the envelope topic.
 * No loop over sockets in JavaScript.
 */
export class Fanout {
  constructor(
    private readonly sink: TopicSink,
    private readonly stats: WorkerStats,
    private readonly tap?: LiveTap,
    /** Told after each message that went out to at least one socket (drives the slow-consumer sweep). */
    private readonly onSent?: () => void,
    /** Told of every message with the number of sockets it was handed to (debug traffic lines). */
    private readonly onMessage?: (message: BrokerMessage, sockets: number) => void,
  ) {}

  deliver(message: BrokerMessage): void {
    const { topic, seq, payload } = message;
    const stats = this.stats;
    stats.messagesReceived++;
    const envTopic = envelopeTopic(topic);
    const rewound = seq === undefined ? undefined : this.tap?.sequenced(topic, seq);
    if (rewound) {
      // Before the message: envelope clients learn that the seqs they hold are void, then get the new ones.
      stats.seqRewinds++;
      if (this.sink.numSubscribers(envTopic) > 0) this.sink.publish(envTopic, encodeGap(rewound), false);
    }
    const raw = this.sink.numSubscribers(topic);
    const enveloped = this.sink.numSubscribers(envTopic);
    const tapped = this.tap !== undefined && this.tap.wants(topic);
    if (raw === 0 && enveloped === 0 && !tapped) return this.onMessage?.(message, 0);
    const started = process.hrtime.bigint();
    // Text frames for valid UTF-8 so browsers get strings; anything else goes out as binary, unchanged.
    const isBinary = !isUtf8(payload);
    if (raw > 0) this.sink.publish(topic, payload, isBinary);
    if (enveloped > 0 || tapped) {
      const envelope = encodeMessage(topic, seq, payload, isBinary);
      if (enveloped > 0) this.sink.publish(envTopic, envelope, false);
      if (tapped) this.tap!.live(topic, seq, envelope);
    }
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    stats.messagesDelivered += raw + enveloped;
    stats.lastFanoutMicros = micros;
    if (micros > stats.maxFanoutMicros) stats.maxFanoutMicros = micros;
    recordFanout(stats, micros);
    if (raw + enveloped > 0) this.onSent?.();
    this.onMessage?.(message, raw + enveloped);
  }
}
