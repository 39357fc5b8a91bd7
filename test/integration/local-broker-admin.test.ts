import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { closeAll, connect, connectMany } from '../../scripts/harness/ws-clients';

const run = promisify(execFile);
const PUBLISH_SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'publish');
const API_KEY = 'test-key-123';

describe('local broker and the admin API', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_BROKER: 'local', HERALD_API_KEY: API_KEY } }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('refuses POST /publish without the API key, and with a wrong one', async () => {
    assert.equal((await herald.publish('broadcast', 'x')).status, 401);
    assert.equal((await herald.publish('broadcast', 'x', 'wrong-key-123')).status, 401);
  });

  it('rejects an invalid topic with 400', async () => {
    assert.equal((await herald.publish('bad topic!', 'x', API_KEY)).status, 400);
  });

  it('reaches clients on every worker through the primary', async () => {
    const clients = await connectMany(herald.wsUrl, 400);
    try {
      await waitFor('both workers hold clients', async () => (await herald.stats()).perWorker.every((w) => w.connections > 0));
      const res = await herald.publish('broadcast', 'via admin', API_KEY);
      assert.equal(res.status, 202);
      await waitFor('all delivered', () => clients.every((c) => c.messages.length === 1));
      assert.ok(clients.every((c) => c.messages[0].data.toString() === 'via admin'));
    } finally {
      closeAll(clients);
    }
  });

  it('scripts/publish publishes through the admin API', async () => {
    const c = await connect(`${herald.wsUrl}?topics=alerts`);
    try {
      const { stdout } = await run(PUBLISH_SCRIPT, ['--topic', 'alerts', '--message', 'from the shell', '--via', herald.adminUrl, '--api-key', API_KEY]);
      assert.match(stdout, /published 14 bytes to alerts/);
      await waitFor('delivered', () => c.messages.length === 1);
      assert.equal(c.messages[0].data.toString(), 'from the shell');
      await assert.rejects(run(PUBLISH_SCRIPT, ['--topic', 'alerts', '--message', 'x', '--via', herald.adminUrl, '--api-key', 'nope']), /401/);
    } finally {
      closeAll([c]);
    }
  });

  it('GET /stats reports connections, per-worker pids and message counts', async () => {
    const c = await connect(herald.wsUrl);
    try {
      const stats = await waitFor('counted', async () => {
        const s = await herald.stats();
        return s.connections === 1 ? s : undefined;
      });
      assert.equal(stats.perWorker.length, 2);
      assert.ok(stats.perWorker.every((w) => typeof w.pid === 'number' && w.up));
      // Every worker holds broadcast, so each one received the earlier broadcast from the broker.
      assert.ok(stats.perWorker.every((w) => Number(w.stats?.messagesReceived) >= 1), 'each worker counted the earlier broadcast');
    } finally {
      closeAll([c]);
    }
  });
});

describe('scripts/publish through Redis', () => {
  it('PUBLISHes to <prefix><topic>', async () => {
    const redis = await new RedisServer().start();
    const sub = redis.client();
    try {
      const got = new Promise<string>((resolve) => sub.on('message', (_ch, msg) => resolve(msg)));
      await sub.subscribe('herald:broadcast');
      await run(PUBLISH_SCRIPT, ['--message', 'hi redis', '--via', redis.url]);
      assert.equal(await got, 'hi redis');
    } finally {
      sub.disconnect();
      await redis.stop();
    }
  });
});
