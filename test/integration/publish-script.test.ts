import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { freePort } from '../../scripts/harness/ports';
import { runPublishScript as publish } from '../helpers/publish-script';
import { RedisServer } from '../../scripts/harness/redis-server';

describe('scripts/publish says where it published, why there, and whether history sequenced it', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await new RedisServer().start();
  });
  after(async () => {
    await redis?.stop();
  });

  it('names the admin URL, the cause and the setting that chose it when herald is not there', async () => {
    const port = await freePort();
    const r = await publish(['--message', 'x'], { HERALD_ADMIN_PORT: String(port) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`could not reach herald's admin API at POST http://127\\.0\\.0\\.1:${port}/publish\\?topic=broadcast: fetch failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    assert.match(r.stderr, /why there: herald's configuration \(NODE_ENV=test, config\/default\.json, config\/test\.json\) has broker "local", which only the admin API reaches/);
    assert.match(r.stderr, /--via http:\/\/HOST:ADMIN_PORT/);
  });

  it('names the Redis URL (password masked) and the cause when Redis is not there', async () => {
    const port = await freePort();
    const r = await publish(['--message', 'x', '--via', `redis://:hunter2@127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`could not connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    assert.match(r.stderr, /why there: given with --via/);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });

  it('publishes plain, saying so, while no herald has loaded its publish function into this Redis', async () => {
    const r = await publish(['--topic', 'chat', '--message', 'hi', '--via', redis.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published 2 bytes to chat via Redis at .*: 0 herald workers subscribed to herald:chat\n  why there: given with --via/);
    assert.match(r.stdout, /history: herald_publish is not loaded in this Redis \(no herald with broker "redis" and prefix "herald:" has started on it\): plain PUBLISH, no seq, not stored/);
  });

  it("sequences what herald's own rules cover, through herald's function, and says so", async () => {
    const herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_HISTORY: 'news=100/60' } }).start();
    try {
      const env = { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url };
      const news = await publish(['--topic', 'news', '--message', 'first'], env);
      assert.equal(news.code, 0, news.stderr);
      assert.match(news.stdout, new RegExp(`^published 5 bytes to news via Redis at ${redis.url} with seq 1 \\(FCALL herald_publish\\)\\n  why there: herald's configuration \\(NODE_ENV=test, [^)]*\\) has broker "redis"`));
      assert.match(news.stdout, /history: news matches a history rule herald loaded into Redis: sequenced and stored/);
      const chat = await publish(['--topic', 'chat', '--message', 'hi'], env);
      assert.equal(chat.code, 0, chat.stderr);
      assert.match(chat.stdout, /history: no history rule matches chat in the rules herald loaded into Redis: published without a seq, not stored/);
      const viaAdmin = await publish(['--topic', 'news', '--message', 'second', '--via', herald.adminUrl]);
      assert.match(viaAdmin.stdout, /^published 6 bytes to news via the admin API at .* with seq 2\n/);
    } finally {
      await herald.stop();
    }
  });
});
