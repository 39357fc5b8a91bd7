/**
 * The broker contract (src/broker/broker.ts), one suite run against every
 * broker implementation: publish/subscribe byte for byte, seqs and history
 * bounds, since/gap/ahead, subscription confirmation. Implementation-specific
 * cases (reconnect, stall) live beside each implementation's test file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Broker, BrokerMessage, BrokerState } from '../../src/broker/broker';
import type { HistoryRule } from '../../src/broker/history-rules';
import { waitFor } from '../../scripts/harness/ports';

export interface BrokerPair {
  /** The publishing side (herald's primary). */
  publisher: Broker;
  /** One receiving side (a worker), and what it got. */
  subscriber: Broker;
  received: BrokerMessage[];
  states: BrokerState[];
  /**
   * Publishes the way any other program would, without herald's help (PUBLISH
   * <prefix><topic> on Redis); brokers with a single path use publish().
   */
  publishRaw(topic: string, payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerFixture {
  name: string;
  open(rules: HistoryRule[]): Promise<BrokerPair>;
}

export const CONTRACT_RULES: HistoryRule[] = [
  { pattern: 'hist:*', maxLength: 1000, maxAgeSeconds: 0 },
  { pattern: 'short:*', maxLength: 5, maxAgeSeconds: 0 },
  { pattern: 'aged:*', maxLength: 1000, maxAgeSeconds: 1 },
];

/** Payloads that begin with every byte pair of the old in-band header `0x00 'H' <digits> '\n'`, and whole fake headers. */
export function headerLookalikes(): Buffer[] {
  const bytes = [0x00, 0x48, 0x30, 0x31, 0x39, 0x0a];
  const out: Buffer[] = [];
  for (const a of bytes) for (const b of bytes) out.push(Buffer.from([a, b, 0x78]));
  for (const text of ['\u0000H12\nhello', '\u0000H\n', '\u0000Hx\nbad', '\u0000H1', '\u0000H99999999999999999999\nz', '12\nlooks sequenced']) {
    out.push(Buffer.from(text, 'latin1'));
  }
  out.push(Buffer.from([0x00, 0x48]));
  return out;
}

const messagesOf = (pair: BrokerPair, topic: string) => pair.received.filter((m) => m.topic === topic);

export function brokerContract(fixture: BrokerFixture): void {
  describe(`broker contract: ${fixture.name}`, () => {
    let pair: BrokerPair;

    before(async () => {
      pair = await fixture.open(CONTRACT_RULES);
    });

    after(async () => {
      await pair?.close();
    });

    it('delivers a message of a topic without history byte for byte, without a seq', async () => {
      await pair.subscriber.subscribe('plain:a');
      const payload = Buffer.from([0xff, 0x00, 0x48, 0x31, 0x0a, 0x41]);
      const result = await pair.publisher.publish('plain:a', payload);
      assert.equal(result.seq, undefined);
      await waitFor('delivery', () => messagesOf(pair, 'plain:a').length === 1);
      const [got] = messagesOf(pair, 'plain:a');
      assert.equal(got.seq, undefined);
      assert.deepEqual(Buffer.from(got.payload), payload);
      assert.equal(pair.publisher.hasHistory('plain:a'), false);
    });

    it('gives a topic with history seqs 1, 2, 3 and delivers them in order with the seq', async () => {
      await pair.subscriber.subscribe('hist:order');
      const seqs: (number | undefined)[] = [];
      for (let i = 0; i < 20; i++) seqs.push((await pair.publisher.publish('hist:order', Buffer.from(`m${i}`))).seq);
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1));
      await waitFor('20 deliveries', () => messagesOf(pair, 'hist:order').length === 20);
      assert.deepEqual(messagesOf(pair, 'hist:order').map((m) => m.seq), seqs);
      assert.deepEqual(messagesOf(pair, 'hist:order').map((m) => m.payload.toString()), seqs.map((s) => `m${s! - 1}`));
      assert.equal(pair.subscriber.hasHistory('hist:order'), true);
    });

    it('reads history after since, bounded by limit, with first and current', async () => {
      for (let i = 1; i <= 30; i++) await pair.publisher.publish('hist:read', Buffer.from(`r${i}`));
      const page = await pair.subscriber.history('hist:read', 10, 5);
      assert.equal(page.current, 30);
      assert.equal(page.first, 1);
      assert.deepEqual(page.entries.map((e) => e.seq), [11, 12, 13, 14, 15]);
      assert.deepEqual(page.entries.map((e) => e.payload.toString()), ['r11', 'r12', 'r13', 'r14', 'r15']);
      const all = await pair.subscriber.history('hist:read', 0, 1000);
      assert.deepEqual(all.entries.map((e) => e.seq), Array.from({ length: 30 }, (_, i) => i + 1));
      const none = await pair.subscriber.history('hist:read', 30, 100);
      assert.deepEqual(none.entries, []);
      assert.equal(none.current, 30);
    });

    it('answers a position ahead of the topic with nothing and the real current seq', async () => {
      await pair.publisher.publish('hist:ahead', Buffer.from('x'));
      const page = await pair.subscriber.history('hist:ahead', 50, 10);
      assert.equal(page.current, 1);
      assert.deepEqual(page.entries, []);
    });

    it('answers an unknown topic with no history at all', async () => {
      const page = await pair.subscriber.history('hist:never', 0, 10);
      assert.deepEqual(page, { first: null, current: 0, entries: [] });
    });

    it('keeps at least maxLength messages, trims older ones, and never reuses a seq', async () => {
      // Redis trims whole stream nodes (100 entries each by default), so publish past a few of them.
      for (let i = 1; i <= 250; i++) await pair.publisher.publish('short:x', Buffer.from(`s${i}`));
      const page = await pair.subscriber.history('short:x', 0, 1000);
      assert.equal(page.current, 250);
      assert.ok(page.entries.length >= 5, `kept ${page.entries.length}`);
      assert.ok(page.first! > 1, 'old entries were trimmed');
      assert.equal(page.entries[0].seq, page.first);
      assert.equal(page.entries[page.entries.length - 1].seq, 250);
      // Retained seqs are contiguous up to current.
      page.entries.forEach((e, i) => assert.equal(e.seq, page.first! + i));
      assert.equal((await pair.publisher.publish('short:x', Buffer.from('next'))).seq, 251);
    });

    it('trims messages older than maxAgeSeconds', async () => {
      await pair.publisher.publish('aged:x', Buffer.from('old'));
      await waitFor('the old message to age out', async () => {
        await pair.publisher.publish('aged:x', Buffer.from('fresh'));
        const page = await pair.subscriber.history('aged:x', 0, 1000);
        return page.entries[0]?.payload.toString() === 'fresh' && page.first! > 1;
      }, 10_000, 250);
    });

    it('keeps payloads that look like the old in-band header intact, with and without history', async () => {
      await pair.subscriber.subscribe('plain:lookalike');
      await pair.subscriber.subscribe('hist:lookalike');
      const payloads = headerLookalikes();
      for (const payload of payloads) {
        await pair.publishRaw('plain:lookalike', payload);
        await pair.publisher.publish('hist:lookalike', payload);
      }
      await waitFor('every lookalike', () => messagesOf(pair, 'plain:lookalike').length === payloads.length && messagesOf(pair, 'hist:lookalike').length === payloads.length);
      messagesOf(pair, 'plain:lookalike').forEach((m, i) => {
        assert.deepEqual(Buffer.from(m.payload), payloads[i], `raw payload ${i}`);
        assert.equal(m.seq, undefined);
      });
      messagesOf(pair, 'hist:lookalike').forEach((m, i) => {
        assert.deepEqual(Buffer.from(m.payload), payloads[i], `sequenced payload ${i}`);
        assert.equal(m.seq, i + 1);
      });
    });

    it('confirms a subscription before the next publish, and stops after unsubscribe', async () => {
      await pair.subscriber.subscribe('plain:confirm');
      await pair.publisher.publish('plain:confirm', Buffer.from('one'));
      await waitFor('first', () => messagesOf(pair, 'plain:confirm').length === 1);
      await pair.subscriber.unsubscribe('plain:confirm');
      // A marker on a topic still held shows that the later publish had its chance to arrive.
      await pair.subscriber.subscribe('plain:marker');
      // Unsubscribe is asynchronous on the wire; a round trip through a subscribe confirms it was sent first.
      await pair.subscriber.subscribe('plain:marker2');
      await pair.publisher.publish('plain:confirm', Buffer.from('two'));
      await pair.publisher.publish('plain:marker', Buffer.from('m'));
      await waitFor('marker', () => messagesOf(pair, 'plain:marker').length === 1);
      assert.equal(messagesOf(pair, 'plain:confirm').length, 1);
    });

    it('fence(): once it resolves, every message history showed has arrived, except those that never will', async () => {
      await pair.publisher.publish('hist:fence', Buffer.from('before the subscription'));
      await pair.subscriber.subscribe('hist:fence');
      await Promise.all(Array.from({ length: 200 }, (_, i) => pair.publisher.publish('hist:fence', Buffer.from(`f${i}`))));
      const page = await pair.subscriber.history('hist:fence', 200, 1);
      assert.equal(page.current, 201);
      await pair.subscriber.fence('hist:fence');
      const seqs = () => messagesOf(pair, 'hist:fence').map((m) => m.seq);
      // Seq 1 was published before the subscription: a broker need not deliver it, and the fence does not wait for it.
      const delivered = (expected: number[]) => assert.deepEqual(seqs()[0] === 1 ? seqs().slice(1) : seqs(), expected);
      delivered(Array.from({ length: 200 }, (_, i) => i + 2));
      await pair.subscriber.fence('hist:not-subscribed'); // nothing outstanding: resolves as well
      // The fence's round trip leaves the subscription as it was.
      await pair.publisher.publish('hist:fence', Buffer.from('after'));
      await waitFor('the message after the fences', () => seqs().at(-1) === 202);
      delivered(Array.from({ length: 201 }, (_, i) => i + 2));
    });

    it('subscribes many topics at once and confirms each', async () => {
      const topics = Array.from({ length: 2500 }, (_, i) => `plain:many:${i}`);
      await Promise.all(topics.map((t) => pair.subscriber.subscribe(t)));
      await pair.publisher.publish('plain:many:2499', Buffer.from('last'));
      await pair.publisher.publish('plain:many:0', Buffer.from('first'));
      await waitFor('both', () => messagesOf(pair, 'plain:many:2499').length === 1 && messagesOf(pair, 'plain:many:0').length === 1);
    });

    it('reports itself connected', () => {
      assert.equal(pair.publisher.state, 'connected');
      assert.equal(pair.subscriber.state, 'connected');
    });
  });
}
