/**
 * A real herald behind a real Sentinel setup (1 master, 1 replica, 3
 * sentinels), through SENTINEL FAILOVER: what its clients and publishers see.
 *
 * Redis replicates asynchronously, and a forced failover promotes the replica
 * before the old master is demoted: writes the old master takes meanwhile are
 * acknowledged and then lost, and the promoted replica hands their seqs out
 * again. A publisher pinned to the old master (as one that is not
 * Sentinel-aware would be) makes that window certain to be hit; herald must
 * tell its envelope clients rather than let them take the reused seqs for the
 * ones they had.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { connectEnvelope, frames, seqsOf, type EnvelopeFrame } from '../helpers/envelope-client';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RedisSentinels } from '../helpers/redis-sentinel';
import { runPublishScript } from '../helpers/publish-script';
import { askNode, fcallPublish, nodeClient } from '../../scripts/harness/redis-server';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

const TOPIC = 'feed';

/** Message frames of the topic with no gap before a seq that does not go up: what a client would be fooled by. */
function silentRewinds(got: EnvelopeFrame[]): EnvelopeFrame[] {
  const fooled: EnvelopeFrame[] = [];
  let last = 0;
  for (const [i, f] of got.entries()) {
    if (f.type !== 'message' || f.topic !== TOPIC || f.seq === undefined) continue;
    const told = got[i - 1]?.type === 'gap' && got[i - 1].reason === 'ahead' && got[i - 1].current === f.seq && got[i - 1].since === last;
    if (f.seq <= last && !told) fooled.push(f);
    last = f.seq;
  }
  return fooled;
}

describe('herald behind Sentinel (1 master, 1 replica, 3 sentinels)', { timeout: 120_000 }, () => {
  const sentinels = new RedisSentinels();
  let herald: HeraldProcess;

  before(async () => {
    await sentinels.start();
    herald = await new HeraldProcess({
      env: {
        HERALD_BROKER: 'redis',
        HERALD_REDIS_MODE: 'sentinel',
        HERALD_REDIS_NODES: sentinels.nodes.map((n) => `${n.host}:${n.port}`).join(','),
        HERALD_REDIS_SENTINEL_NAME: sentinels.name,
        HERALD_REDIS_COMMAND_TIMEOUT_MS: '1000',
        HERALD_HISTORY: `${TOPIC}=100000/600`,
      },
    }).start();
  });

  after(async () => {
    await herald?.stop();
    await sentinels.stop();
  });

  it('follows SENTINEL FAILOVER without a restart: /health and publishes answer 503 during the switch, live clients are told of the lost seqs, a returning client recovers from the new master', async () => {
    const live = await connectEnvelope(herald.wsUrl, [TOPIC]);
    const raw = await connect(`${herald.wsUrl}?topics=${TOPIC}`);
    const away = await connectEnvelope(herald.wsUrl, [TOPIC]);
    try {
      const before = await herald.stats();
      // Retried until every client holds the topic (they may sit on either worker).
      for (let i = 1; seqsOf(live, TOPIC).length < 1 || seqsOf(away, TOPIC).length < 1 || raw.messages.length < 1; i++) {
        assert.equal((await herald.publish(TOPIC, `warm ${i}`)).status, 202);
        await sleep(50);
      }
      const awayAt = seqsOf(away, TOPIC).at(-1)!;
      away.ws.close();
      await away.closed;

      // Through the switch: herald's publishes every 20 ms, /health polled all the time, and a writer pinned to the old master.
      let switching = true;
      const answers: { status: number; seq?: number; payload: string; afterHealthy: boolean }[] = [];
      const health: { status: number; reasons: string[] }[] = [];
      let healthyAgain = false;
      const publishing = (async () => {
        for (let i = 0; switching; i++) {
          const payload = `p${i}`;
          const afterHealthy = healthyAgain;
          const res = await herald.publish(TOPIC, payload);
          const body = (await res.json()) as { seq?: number; maybePublished?: boolean };
          if (res.status === 503) assert.equal(body.maybePublished, false, 'refused, not sent');
          answers.push({ status: res.status, seq: body.seq, payload, afterHealthy });
          await sleep(20);
        }
      })();
      const polling = (async () => {
        while (switching) {
          const r = await herald.health();
          health.push({ status: r.status, reasons: r.body.reasons ?? [] });
          await sleep(10);
        }
      })();
      const oldMaster = await sentinels.masterPort();
      const pinned = nodeClient(oldMaster);
      const oldWrites: { seq: number; payload: string }[] = [];
      let pinnedOn = true;
      const writing = (async () => {
        for (let i = 0; pinnedOn; i++) {
          try {
            oldWrites.push({ seq: (await fcallPublish(pinned, TOPIC, `old${i}`))!, payload: `old${i}` });
          } catch {
            return; // demoted (READONLY) or disconnected by the sentinels
          }
          await sleep(2);
        }
      })();

      const { to } = await sentinels.failover();
      // The replica is master now; the old one takes writes until the sentinels demote it (seconds later).
      await sleep(300);
      pinnedOn = false;
      await writing;
      pinned.disconnect();
      await waitFor('/health 200 after a 503', () => health.some((h) => h.status === 503) && health.at(-1)?.status === 200, 20_000);
      healthyAgain = true;
      await waitFor('ten publishes taken after the switch', () => answers.filter((a) => a.afterHealthy && a.status === 202).length >= 10, 20_000);
      switching = false;
      await Promise.all([publishing, polling]);

      // The new master's history, as Redis has it now.
      const stream = (await askNode(to, (c) => c.xrange(`herald:{${TOPIC}}:history`, '-', '+'))).map(([id, fields]) => ({ seq: parseInt(id, 10), payload: fields[fields.indexOf('d') + 1] }));
      const kept = new Set(stream.map((e) => e.payload));
      const lost = oldWrites.filter((w) => !kept.has(w.payload));
      assert.ok(lost.length > 0, 'the forced failover lost writes the old master acknowledged (the window this test is about)');

      // Health and publishes during the switch.
      const sick = health.filter((h) => h.status === 503);
      assert.ok(sick.some((h) => h.reasons.some((r) => /^broker (publisher|subscriber)/.test(r))), JSON.stringify(sick.slice(0, 3)));
      assert.ok(answers.every((a) => a.status === 202 || a.status === 503), `answers: ${[...new Set(answers.map((a) => a.status))]}`);
      assert.ok(answers.some((a) => a.status === 503), 'some publishes were refused during the switch');
      for (const a of answers.filter((x) => x.afterHealthy && x.status === 202)) assert.ok(kept.has(a.payload), `${a.payload} (seq ${a.seq}) taken after the switch is in history`);

      // Live envelope client: saw the old master's seqs, then was told before the seqs went back.
      assert.equal(await herald.publish(TOPIC, 'final').then((r) => r.status), 202);
      await waitFor('final, live', () => frames(live).some((f) => f.data === 'final') && raw.messages.some((m) => m.data.toString() === 'final'));
      const got = frames(live);
      assert.deepEqual(silentRewinds(got), [], 'every seq that went back came after a gap');
      const gaps = got.filter((f) => f.type === 'gap');
      assert.ok(gaps.length >= 1, 'the seqs the old master lost went back on the live stream');
      assert.equal(gaps[0].reason, 'ahead');

      // A client that was away during the switch recovers what the new master has after its position.
      const back = await connectEnvelope(herald.wsUrl, [TOPIC], `${TOPIC}:${awayAt}`);
      try {
        await waitFor('recovered', () => frames(back).some((f) => f.type === 'recovered'), 15_000);
        const replayed = frames(back).filter((f) => f.type === 'message').map((f) => ({ seq: f.seq, payload: f.data }));
        const expected = [...stream.filter((e) => e.seq > awayAt), { seq: stream.at(-1)!.seq + 1, payload: 'final' }];
        assert.deepEqual(replayed, expected);
        assert.equal(frames(back).filter((f) => f.type === 'gap').length, 0);
      } finally {
        closeAll([back]);
      }

      // The same processes throughout: followed, not restarted.
      const after = await herald.stats();
      assert.deepEqual(after.perWorker.map((w) => w.pid), before.perWorker.map((w) => w.pid));
      assert.ok(live.closeCode === undefined && raw.closeCode === undefined, 'live clients stayed connected');
      const clients = await askNode(to, (c) => c.client('LIST') as Promise<string>);
      assert.match(clients, /name=herald-commands-\d+ /, "the primary's publisher is on the new master");
      assert.equal(clients.match(/name=herald-subscriber-\d+ /g)?.length, 2, 'both workers subscribe on the new master');
    } finally {
      closeAll([live, raw, away]);
    }
  });

  it('scripts/publish follows Sentinel: it publishes to the master the sentinels name now, from herald\'s configuration or --via redis+sentinel://', async () => {
    const master = await sentinels.masterPort();
    const nodes = sentinels.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const fromConfig = await runPublishScript(['--topic', TOPIC, '--message', 'from the script'], {
      HERALD_BROKER: 'redis', HERALD_REDIS_MODE: 'sentinel', HERALD_REDIS_NODES: nodes, HERALD_REDIS_SENTINEL_NAME: sentinels.name,
    });
    assert.equal(fromConfig.code, 0, fromConfig.stderr);
    const where = `via Redis at 127\\.0\\.0\\.1:${master}, the master that the sentinels \\(${nodes}\\) name "${sentinels.name}" now`;
    const seq = Number(new RegExp(`^published 15 bytes to ${TOPIC} ${where} with seq (\\d+) \\(FCALL herald_publish\\)\n  why there: herald's configuration \\(NODE_ENV=test, [^)]*\\) has broker "redis" with redis.mode "sentinel" \\(HERALD_REDIS_MODE\\): the master that the sentinels in redis.nodes \\(HERALD_REDIS_NODES\\) name "${sentinels.name}"`).exec(fromConfig.stdout)?.[1]);
    assert.ok(seq > 0, fromConfig.stdout);
    const viaUrl = await runPublishScript(['--topic', TOPIC, '--message', 'via the url', '--via', `redis+sentinel://${nodes}/${sentinels.name}`]);
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    assert.match(viaUrl.stdout, new RegExp(`^published 11 bytes to ${TOPIC} ${where} with seq ${seq + 1} \\(FCALL herald_publish\\)\n  why there: given with --via\n`));
    const stored = await askNode(master, (c) => c.xrange(`herald:{${TOPIC}}:history`, `${seq}-0`, '+'));
    assert.deepEqual(stored.map(([id, fields]) => [parseInt(id, 10), fields[fields.indexOf('d') + 1]]), [[seq, 'from the script'], [seq + 1, 'via the url']]);
  });
});
