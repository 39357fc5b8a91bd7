import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fanout, type TopicSink } from '../../src/hub/fanout';
import { newWorkerStats } from '../../src/metrics/worker-stats';

/** An in-memory transport: records the publishes the fan-out makes. */
class RecordingSink implements TopicSink {
  readonly published: { topic: string; message: Uint8Array; isBinary: boolean }[] = [];
  constructor(private readonly subscribers: Record<string, number>) {}
  publish(topic: string, message: Uint8Array, isBinary: boolean): boolean {
    this.published.push({ topic, message, isBinary });
    return true;
  }
  numSubscribers(topic: string): number {
    return this.subscribers[topic] ?? 0;
  }
}

describe('fan-out', () => {
  it('makes one topic publish per message, text for UTF-8 and binary otherwise', () => {
    const sink = new RecordingSink({ broadcast: 1000 });
    const stats = newWorkerStats(0);
    const fanout = new Fanout(sink, stats);
    fanout.deliver({ topic: 'broadcast', payload: Buffer.from('héllo') });
    fanout.deliver({ topic: 'broadcast', payload: Buffer.from([0xff, 0xfe]) });
    assert.equal(sink.published.length, 2);
    assert.equal(sink.published[0].isBinary, false);
    assert.equal(sink.published[1].isBinary, true);
    assert.deepEqual(Buffer.from(sink.published[1].message), Buffer.from([0xff, 0xfe]));
    assert.equal(stats.messagesReceived, 2);
    assert.equal(stats.messagesDelivered, 2000);
  });

  it('skips topics nobody here listens to, but counts them', () => {
    const sink = new RecordingSink({});
    const stats = newWorkerStats(0);
    new Fanout(sink, stats).deliver({ topic: 'room:1', payload: Buffer.from('x') });
    assert.equal(sink.published.length, 0);
    assert.equal(stats.messagesReceived, 1);
    assert.equal(stats.messagesDelivered, 0);
  });
});
