import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { closeAll, connect, connectMany } from '../../scripts/harness/ws-clients';

/** Sample lines of one metric: [labels text, value]. */
function samples(text: string, name: string): [string, number][] {
  const out: [string, number][] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.push([m[2] ?? '', Number(m[3])]);
  }
  return out;
}
const sum = (text: string, name: string, labelFilter = '') =>
  samples(text, name).filter(([labels]) => labels.includes(labelFilter)).reduce((acc, [, v]) => acc + v, 0);

describe('GET /metrics', () => {
  let herald: HeraldProcess;
  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2' } }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('reports a known sequence of connects, refusals and publishes, aggregated over workers', async () => {
    const clients = await connectMany(herald.wsUrl, 40);
    const refused = await Promise.allSettled([connect(`${herald.wsUrl}?topics=bad%20topic`), connect(`${herald.wsUrl}?topics=also!bad`)]);
    assert.ok(refused.every((r) => r.status === 'rejected'));
    try {
      await waitFor('both workers hold clients', async () => (await herald.stats()).perWorker.every((w) => w.connections > 0));
      for (let i = 0; i < 3; i++) assert.equal((await herald.publish('broadcast', `m${i}`)).status, 202);
      await waitFor('all delivered', () => clients.every((c) => c.messages.length === 3));

      const res = await fetch(`${herald.adminUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();

      assert.equal(sum(text, 'herald_cluster_connections'), 40);
      const perWorker = samples(text, 'herald_connections');
      assert.deepEqual(perWorker.map(([l]) => l).sort(), ['{worker="0"}', '{worker="1"}']);
      assert.equal(perWorker.reduce((a, [, v]) => a + v, 0), 40);
      assert.ok(perWorker.every(([, v]) => v > 0));
      assert.equal(sum(text, 'herald_upgrades_accepted_total'), 40);
      assert.equal(sum(text, 'herald_upgrades_refused_total', 'reason="bad_topics"'), 2);
      // Each worker receives each of the 3 messages once; 40 sockets get each of them.
      assert.equal(sum(text, 'herald_messages_received_total'), 6);
      assert.equal(sum(text, 'herald_messages_delivered_total'), 120);
      assert.equal(sum(text, 'herald_fanout_duration_seconds_count'), 6);
      assert.equal(sum(text, 'herald_fanout_duration_seconds_bucket', 'le="+Inf"'), 6);
      assert.match(text, /# TYPE herald_fanout_duration_seconds histogram/);
      assert.equal(sum(text, 'herald_broker_connected'), 2);
      assert.equal(sum(text, 'herald_broker_reconnects_total'), 0);
      assert.equal(sum(text, 'herald_slow_consumer_closes_total'), 0);
      assert.match(text, /# TYPE herald_connections_closed_total counter/);
      assert.equal(sum(text, 'herald_workers_up'), 2);
      for (const worker of ['0', '1', 'primary']) {
        assert.ok(sum(text, 'process_resident_memory_bytes', `worker="${worker}"`) > 10e6, `memory of ${worker}`);
        assert.equal(samples(text, "nodejs_eventloop_lag_seconds").filter(([l]) => l.includes(`worker="${worker}"`)).length, 1, `lag of ${worker}: ${text.split("\n").filter((l) => l.includes("lag_seconds")).join("\n")}`);
      }
    } finally {
      closeAll(clients);
    }
  });
});
