import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRedisVia, shownVia } from '../../scripts/lib/redis-via';

describe('scripts/publish --via: Redis targets in every mode', () => {
  it('reads one server, Sentinel and cluster targets as herald endpoints', () => {
    assert.deepEqual(parseRedisVia('redis://127.0.0.1:6379', 2000), { mode: 'standalone', url: 'redis://127.0.0.1:6379', commandTimeoutMs: 2000 });
    assert.deepEqual(parseRedisVia('redis+sentinel://a.example:26379,[::1]:26380/mymaster', 2000), {
      mode: 'sentinel', nodes: [{ host: 'a.example', port: 26379 }, { host: '::1', port: 26380 }], sentinelName: 'mymaster',
      username: undefined, password: undefined, tls: undefined, commandTimeoutMs: 2000,
    });
    assert.deepEqual(parseRedisVia('rediss+cluster://app:p%40ss@10.0.1.1:6379,10.0.1.2:6379', 1000), {
      mode: 'cluster', nodes: [{ host: '10.0.1.1', port: 6379 }, { host: '10.0.1.2', port: 6379 }], sentinelName: undefined,
      username: 'app', password: 'p@ss', tls: {}, commandTimeoutMs: 1000,
    });
  });

  it('refuses what it cannot use, naming the mistake and masking the password', () => {
    assert.throws(() => parseRedisVia('redis+sentinel://:secret@127.0.0.1:26379', 1000), /--via redis\+sentinel:\/\/:\*\*\*@127\.0\.0\.1:26379: name the master after the nodes/);
    assert.throws(() => parseRedisVia('redis+cluster://127.0.0.1:7000/mymaster', 1000), /a cluster has no master name; drop "\/mymaster"/);
    assert.throws(() => parseRedisVia('redis+cluster://127.0.0.1', 1000), /"127\.0\.0\.1" must be host:port/);
    assert.throws(() => parseRedisVia('redis+shard://127.0.0.1:7000', 1000), /expected redis\+sentinel:\/\/host:port/);
    assert.equal(shownVia('rediss+cluster://u:pw@h:1'), 'rediss+cluster://u:***@h:1');
  });
});
