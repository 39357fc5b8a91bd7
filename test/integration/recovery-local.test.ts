/**
 * Recovery with the embedded broker (npm start's defaults, no Redis): the
 * primary keeps seqs and history in memory, workers read it over IPC.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectEnvelope, frames, range, seqsOf } from '../helpers/envelope-client';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll } from '../../scripts/harness/ws-clients';

describe('recovery with the local broker', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_BROKER: 'local', HERALD_HISTORY: 'room:*=1000/300,tiny:*=3/300' } }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('POST /publish answers the seq for a topic with history, none without', async () => {
    const first = await herald.publish('room:seq', 'a');
    assert.equal(first.status, 202);
    assert.deepEqual(await first.json(), { topic: 'room:seq', seq: 1 });
    assert.deepEqual(await (await herald.publish('room:seq', 'b')).json(), { topic: 'room:seq', seq: 2 });
    assert.deepEqual(await (await herald.publish('plain', 'c')).json(), { topic: 'plain' });
  });

  it('replays what a client missed, then goes live with no gap and no duplicate', async () => {
    const first = await connectEnvelope(herald.wsUrl, ['room:a']);
    for (let i = 1; i <= 3; i++) await herald.publish('room:a', `m${i}`);
    await waitFor('first three', () => seqsOf(first, 'room:a').length === 3);
    closeAll([first]);
    for (let i = 4; i <= 50; i++) await herald.publish('room:a', `m${i}`);
    const back = await connectEnvelope(herald.wsUrl, ['room:a'], 'room:a:3');
    try {
      await waitFor('recovered', () => frames(back).some((f) => f.type === 'recovered'));
      for (let i = 51; i <= 55; i++) await herald.publish('room:a', `m${i}`);
      await waitFor('live', () => seqsOf(back, 'room:a').length === 52);
      assert.deepEqual(seqsOf(back, 'room:a'), range(4, 55));
      assert.equal(frames(back).filter((f) => f.type === 'gap').length, 0);
      assert.equal(frames(back).find((f) => f.type === 'message')?.data, 'm4');
    } finally {
      closeAll([back]);
    }
  });

  it('says gap when the client asks for more than is kept', async () => {
    for (let i = 1; i <= 10; i++) await herald.publish('tiny:x', `t${i}`);
    const c = await connectEnvelope(herald.wsUrl, ['tiny:x'], 'tiny:x:2');
    try {
      await waitFor('recovered', () => frames(c).some((f) => f.type === 'recovered'));
      const gap = frames(c).find((f) => f.type === 'gap');
      assert.deepEqual(gap, { type: 'gap', topic: 'tiny:x', since: 2, first: 8, current: 10, reason: 'expired' });
      assert.deepEqual(seqsOf(c, 'tiny:x'), [8, 9, 10]);
    } finally {
      closeAll([c]);
    }
  });
});
