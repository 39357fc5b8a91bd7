import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports';
import { RedisServer } from '../helpers/redis-server';

const execFileAsync = promisify(execFile);
const PUBLISH = path.join(__dirname, '..', '..', '..', 'scripts', 'publish');

/** Runs scripts/publish; resolves with its exit code and both outputs whatever the code. */
async function publish(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { HERALD_HISTORY: _h, ...base } = process.env;
  try {
    const r = await execFileAsync(PUBLISH, args, { env: { ...base, NODE_ENV: 'test', ...env }, timeout: 20_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

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

  it('sequences a topic its rules cover, saying which rule and where the rules came from', async () => {
    const r = await publish(['--topic', 'news', '--message', 'first'], { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_HISTORY: 'news=100/60' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^published 5 bytes to news via Redis at ${redis.url} with seq 1\\n  why there: herald's configuration \\(NODE_ENV=test, [^)]*\\) has broker "redis"`));
    assert.match(r.stdout, /history: news matches rule "news" \(100 entries, 60 s\) in HERALD_HISTORY: sequenced and stored/);
  });

  it('says a plain PUBLISH is not sequenced, and warns when herald keeps history for that topic', async () => {
    const plain = await publish(['--topic', 'chat', '--message', 'hi', '--via', redis.url]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /to chat via Redis at .*: 0 herald workers subscribed to herald:chat/);
    assert.match(plain.stdout, /history: no history rules in history\.rules of NODE_ENV=test, config\/default\.json, config\/test\.json: plain PUBLISH, no seq, not stored/);
    assert.equal(plain.stderr, '', 'no history for chat anywhere: nothing to warn about');

    const skipped = await publish(['--topic', 'news', '--message', 'second', '--via', redis.url]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stderr, /warning: Redis holds herald:\{news\}:seq, so herald keeps history for news, but this script has no rule for it/);
  });
});
