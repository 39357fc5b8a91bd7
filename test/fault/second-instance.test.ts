import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { closeAll, connectMany } from '../../scripts/harness/ws-clients';

describe('a second herald on the same port', () => {
  it('exits 1 naming the port, and the first keeps every client', { timeout: 60_000 }, async () => {
    const first = await new HeraldProcess({ env: { HERALD_WORKERS: '2' } }).start();
    let second: HeraldProcess | undefined;
    try {
      second = await new HeraldProcess({ env: { HERALD_WORKERS: '2', HERALD_PORT: String(first.port) }, waitHealthy: false }).start();
      assert.equal(await Promise.race([second.waitExit(), sleep(15_000).then(() => 'still running')]), 1, second.output);
      assert.match(second.output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: .*already`));
      assert.doesNotMatch(second.output, /worker listening/, 'no worker of the second herald started');
      // Every new client reaches the first herald, and a publish reaches them all.
      const clients = await connectMany(first.wsUrl, 40);
      await waitFor('all on the first herald', async () => (await first.stats()).connections === 40);
      await first.publish('broadcast', 'only one herald');
      await waitFor('all delivered', () => clients.every((c) => c.messages.length === 1));
      closeAll(clients);
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});
