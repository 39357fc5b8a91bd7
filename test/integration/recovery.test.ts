import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { connectEnvelope, frames, range, seqsOf } from '../helpers/envelope-client';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { fcallPublish, RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connect } from '../../scripts/harness/ws-clients';


describe('history and recovery after reconnect', () => {
  const redis = new RedisServer();
  let herald: HeraldProcess;
  let pub: Redis;

  before(async () => {
    await redis.start();
    herald = await new HeraldProcess({
      env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_HISTORY: 'room:*=100000/300,short:*=1000/1' },
    }).start();
    pub = redis.client();
  });

  after(async () => {
    pub?.disconnect();
    await herald?.stop();
    await redis.stop();
  });

  const publishN = async (topic: string, n: number, tag = 'm') => {
    for (let i = 0; i < n; i++) assert.equal((await herald.publish(topic, `${tag}${i}`)).status, 202);
  };

  it('replays exactly the 100 messages missed while disconnected, in order, then live ones', async () => {
    const first = await connectEnvelope(herald.wsUrl, ['room:a']);
    await waitFor('subscribed', async () => (await pub.pubsub('NUMSUB', 'herald:room:a'))[1] === 1);
    await publishN('room:a', 3);
    await waitFor('first three', () => seqsOf(first, 'room:a').length === 3);
    const seen = seqsOf(first, 'room:a');
    assert.deepEqual(seen, [1, 2, 3]);
    first.ws.close();
    await first.closed;

    await publishN('room:a', 100, 'missed');
    const back = await connectEnvelope(herald.wsUrl, ['room:a'], `room:a:${seen[seen.length - 1]}`);
    try {
      await waitFor('recovered', () => frames(back).some((f) => f.type === 'recovered'));
      await publishN('room:a', 5, 'live');
      await waitFor('live ones', () => seqsOf(back, 'room:a').length === 105);
      assert.deepEqual(seqsOf(back, 'room:a'), range(4, 108));
      const got = frames(back);
      assert.equal(got.filter((f) => f.type === 'gap').length, 0);
      const messages = got.filter((f) => f.type === 'message');
      assert.equal(messages[0].data, 'missed0');
      assert.equal(messages[99].data, 'missed99');
      assert.equal(messages[100].data, 'live0');
      const marker = got.findIndex((f) => f.type === 'recovered');
      assert.equal(marker, 100, 'the recovered marker sits between history and live');
      assert.equal(got[marker].seq, 103);
    } finally {
      closeAll([back]);
    }
  });

  it('raw clients still get the payload untouched on a history topic', async () => {
    const raw = await connect(`${herald.wsUrl}?topics=room:raw`);
    try {
      await waitFor('subscribed', async () => (await pub.pubsub('NUMSUB', 'herald:room:raw'))[1] === 1);
      await herald.publish('room:raw', 'hello');
      await herald.publish('room:raw', Buffer.from([0xff, 0x00, 0x48]));
      await waitFor('two', () => raw.messages.length === 2);
      assert.equal(raw.messages[0].data.toString(), 'hello');
      assert.deepEqual(raw.messages[1].data, Buffer.from([0xff, 0x00, 0x48]));
      assert.equal(raw.messages[1].isBinary, true);
    } finally {
      closeAll([raw]);
    }
  });

  it('has no gap and no duplicate at the history/live seam under concurrent publishing (20 runs)', async () => {
    const topic = 'room:seam';
    let stop = false;
    let published = 0;
    const publisher = (async () => {
      while (!stop) {
        await fcallPublish(pub, topic, Buffer.from(`p${published}`));
        published++;
        if (published % 20 === 0) await sleep(1);
      }
    })();
    try {
      await waitFor('some published', () => published > 50);
      for (let run = 0; run < 20; run++) {
        const since = Math.max(0, published - 1 - Math.floor(Math.random() * 40));
        const c = await connectEnvelope(herald.wsUrl, [topic], `${topic}:${since}`);
        await waitFor('recovered', () => frames(c).some((f) => f.type === 'recovered'));
        await sleep(20 + Math.random() * 30);
        const until = published;
        await waitFor(`run ${run}: caught up to ${until}`, () => {
          const s = seqsOf(c, topic);
          return s.length > 0 && s[s.length - 1] >= until;
        });
        const seqs = seqsOf(c, topic);
        assert.deepEqual(seqs, range(since + 1, seqs[seqs.length - 1]), `run ${run}: contiguous from ${since + 1}`);
        closeAll([c]);
      }
    } finally {
      stop = true;
      await publisher;
    }
  });

  it('says so when history no longer reaches back (expired by age), then goes live', async () => {
    await publishN('short:x', 10);
    await sleep(1200);
    await publishN('short:x', 1, 'fresh'); // the script trims the 10 expired ones on this publish
    const c = await connectEnvelope(herald.wsUrl, ['short:x'], 'short:x:2');
    try {
      await waitFor('recovered', () => frames(c).some((f) => f.type === 'recovered'));
      const gap = frames(c).find((f) => f.type === 'gap');
      assert.ok(gap, 'a gap notice');
      assert.equal(gap.reason, 'expired');
      assert.equal(gap.first, 11);
      assert.equal(gap.current, 11);
      assert.deepEqual(seqsOf(c, 'short:x'), [11]);
      await publishN('short:x', 1, 'live');
      await waitFor('live', () => seqsOf(c, 'short:x').length === 2);
    } finally {
      closeAll([c]);
    }
    // An idle topic's whole stream expires; the counter stays, so the loss is still reported.
    await sleep(1200);
    const late = await connectEnvelope(herald.wsUrl, ['short:x'], 'short:x:5');
    try {
      await waitFor('gap', () => frames(late).some((f) => f.type === 'gap'));
      const gap = frames(late).find((f) => f.type === 'gap')!;
      assert.deepEqual([gap.reason, gap.first, gap.current], ['expired', null, 12]);
    } finally {
      closeAll([late]);
    }
  });

  it('answers since on a topic without history with a no-history gap, and refuses bad recovery queries', async () => {
    const c = await connectEnvelope(herald.wsUrl, ['plain'], 'plain:7');
    try {
      await waitFor('gap', () => frames(c).length === 1);
      assert.deepEqual(frames(c)[0], { type: 'gap', topic: 'plain', since: 7, first: null, current: 0, reason: 'no-history' });
    } finally {
      closeAll([c]);
    }
    await assert.rejects(connect(`${herald.wsUrl}?topics=room:a&since=room:a:1`), /HTTP 400.*format=envelope/);
    await assert.rejects(connect(`${herald.wsUrl}?format=envelope&since=room:b:1`), /HTTP 400.*not in topics/);
    await assert.rejects(connect(`${herald.wsUrl}?format=envelope&topics=room:a&since=room:a`), /HTTP 400.*topic:seq/);
    await assert.rejects(connect(`${herald.wsUrl}?format=xml`), /HTTP 400/);
  });

  it('a plain PUBLISH reaches envelope clients without a seq, byte for byte, even when it looks like a sequenced frame', async () => {
    const c = await connectEnvelope(herald.wsUrl, []);
    try {
      await pub.publish('herald:broadcast', Buffer.from('\u0000H12\nlooks sequenced'));
      await pub.publish('herald:broadcast', 'hello');
      await waitFor('two', () => c.messages.length === 2);
      assert.deepEqual(frames(c), [
        { type: 'message', topic: 'broadcast', data: '\u0000H12\nlooks sequenced' },
        { type: 'message', topic: 'broadcast', data: 'hello' },
      ]);
    } finally {
      closeAll([c]);
    }
  });

  it('Redis down: connections stay, admin publish answers 503, recovery resumes when Redis is back', async () => {
    const c = await connectEnvelope(herald.wsUrl, ['room:down']);
    await waitFor('subscribed', async () => (await pub.pubsub('NUMSUB', 'herald:room:down'))[1] === 1);
    await publishN('room:down', 2);
    await waitFor('two', () => seqsOf(c, 'room:down').length === 2);
    await redis.stop();
    try {
      const res = await herald.publish('room:down', 'lost?');
      assert.equal(res.status, 503);
      // A recovering client waits for Redis instead of failing.
      const waiting = await connectEnvelope(herald.wsUrl, ['room:down'], 'room:down:2');
      await sleep(300);
      assert.equal(waiting.closeCode, undefined);
      await redis.start();
      pub.disconnect();
      pub = redis.client();
      await waitFor('recovered after the outage', () => frames(waiting).some((f) => f.type === 'recovered'), 15_000);
      // This redis-server came back empty (no persistence): the client's position is ahead of the reset counter.
      assert.deepEqual(seqsOf(waiting, 'room:down'), []);
      assert.deepEqual([frames(waiting)[0].type, frames(waiting)[0].reason], ['gap', 'ahead']);
      assert.equal(c.closeCode, undefined, 'the live connection stayed up');
      await waitFor('publish works again', async () => (await herald.publish('room:down', 'again')).status === 202, 15_000);
      await waitFor('live again', () => frames(c).some((f) => f.data === 'again'));
      closeAll([waiting]);
    } finally {
      closeAll([c]);
    }
  });
});
