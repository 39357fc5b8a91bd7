import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { redisEndpoint } from '../../src/broker/redis/redis-connections';
import { ConfigError, loadConfig } from '../../src/config';

const refuses = (env: NodeJS.ProcessEnv, reason: RegExp) =>
  assert.throws(() => loadConfig({ NODE_ENV: 'test', ...env }), (err: Error) => err instanceof ConfigError && reason.test(err.message), `expected ${reason}`);

describe('redis configuration', () => {
  it('defaults to one standalone Redis with a 2 s command timeout', () => {
    const { redis } = loadConfig({ NODE_ENV: 'test' });
    assert.equal(redis.mode, 'standalone');
    assert.deepEqual(redis.nodes, []);
    assert.equal(redis.commandTimeoutMs, 2000);
    assert.deepEqual(redisEndpoint(redis), {
      mode: 'standalone', url: 'redis://127.0.0.1:6379', nodes: [], sentinelName: '', username: undefined, password: undefined,
      sentinelPassword: undefined, tls: undefined, commandTimeoutMs: 2000,
    });
  });

  it('takes cluster seed nodes and Sentinel settings from the environment', () => {
    const cluster = loadConfig({ NODE_ENV: 'test', HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: '10.0.0.1:7000, redis-2.internal:7001,[::1]:7002' });
    assert.deepEqual(cluster.redis.nodes, ['10.0.0.1:7000', 'redis-2.internal:7001', '[::1]:7002']);
    assert.deepEqual(redisEndpoint(cluster.redis).nodes, [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-2.internal', port: 7001 }, { host: '::1', port: 7002 }]);
    const sentinel = loadConfig({
      NODE_ENV: 'test', HERALD_REDIS_MODE: 'sentinel', HERALD_REDIS_NODES: 's1:26379,s2:26379,s3:26379', HERALD_REDIS_SENTINEL_NAME: 'mymaster',
      HERALD_REDIS_USERNAME: 'herald', HERALD_REDIS_PASSWORD: 'secret', HERALD_REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    });
    const endpoint = redisEndpoint(sentinel.redis);
    assert.deepEqual([endpoint.mode, endpoint.sentinelName, endpoint.username, endpoint.password, endpoint.sentinelPassword], ['sentinel', 'mymaster', 'herald', 'secret', 'sentinel-secret']);
  });

  it('names the key when a value is bad', () => {
    refuses({ HERALD_REDIS_MODE: 'replicated' }, /redis\.mode: must be one of standalone, sentinel, cluster/);
    refuses({ HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'redis-1' }, /redis\.nodes: "redis-1" must be host:port/);
    refuses({ HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'a:7000,b:70000' }, /redis\.nodes: "b:70000": the port must be 1 to 65535/);
    refuses({ HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'a b:7000' }, /redis\.nodes: .*not a host name/);
    refuses({ HERALD_REDIS_COMMAND_TIMEOUT_MS: '10' }, /redis\.commandTimeoutMs: must be an integer from 100 to 60000/);
    refuses({ HERALD_REDIS_SENTINEL_NAME: 'my master' }, /redis\.sentinelName/);
    refuses({ HERALD_REDIS_TLS: 'yes' }, /redis\.tls: must be true or false/);
  });

  it('keeps the prefix to characters that are safe in Lua and never a hash tag', () => {
    for (const bad of ['herald{x}:', 'her ald:', 'a"b', "a'b", 'a\\b', 'x'.repeat(65)]) refuses({ HERALD_REDIS_PREFIX: bad }, /redis\.prefix: must be at most 64 characters of \[A-Za-z0-9_.:-\]/);
    assert.equal(loadConfig({ NODE_ENV: 'test', HERALD_REDIS_PREFIX: 'app.v2:herald-' }).redis.prefix, 'app.v2:herald-');
    assert.equal(loadConfig({ NODE_ENV: 'test', HERALD_REDIS_PREFIX: '' }).redis.prefix, '');
  });

  it('checks that the keys of each mode fit together', () => {
    refuses({ HERALD_REDIS_MODE: 'cluster' }, /redis\.nodes: cluster mode needs one or more seed nodes/);
    refuses({ HERALD_REDIS_MODE: 'sentinel' }, /redis\.nodes: sentinel mode needs the sentinels/);
    refuses({ HERALD_REDIS_MODE: 'sentinel', HERALD_REDIS_NODES: 's1:26379' }, /redis\.sentinelName: sentinel mode needs the master name/);
    refuses({ HERALD_REDIS_NODES: 'a:7000' }, /redis\.nodes: used only in sentinel and cluster modes/);
    refuses({ HERALD_REDIS_SENTINEL_NAME: 'mymaster' }, /redis\.sentinelName: used only in sentinel mode/);
    refuses({ HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'a:7000', HERALD_REDIS_SENTINEL_PASSWORD: 'x' }, /redis\.sentinelPassword: used only in sentinel mode/);
    refuses({ HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'a:7000', HERALD_REDIS_URL: 'redis://a:7000' }, /redis\.url: used only in standalone mode/);
    refuses({ HERALD_REDIS_URL: 'redis://:pw@a:6379', HERALD_REDIS_PASSWORD: 'pw' }, /redis\.password: the credentials are already in redis\.url/);
    refuses({ HERALD_REDIS_USERNAME: 'herald' }, /redis\.username: an ACL user needs redis\.password too/);
  });

  it('turns TLS on by rediss:// (standalone) or redis.tls (cluster, sentinel), with an optional CA file', () => {
    refuses({ HERALD_REDIS_TLS: 'true' }, /redis\.tls: in standalone mode TLS comes from the URL/);
    refuses({ HERALD_REDIS_TLS_CA_FILE: '/etc/hosts' }, /redis\.tlsCaFile: TLS is off/);
    refuses({ HERALD_REDIS_URL: 'rediss://a:6380', HERALD_REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, /redis\.tlsCaFile: cannot read \/nonexistent\/ca\.pem/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-ca-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
      const standalone = loadConfig({ NODE_ENV: 'test', HERALD_REDIS_URL: 'rediss://a:6380', HERALD_REDIS_TLS_CA_FILE: ca });
      assert.deepEqual(redisEndpoint(standalone.redis).tls, { ca: fs.readFileSync(ca) });
      const cluster = loadConfig({ NODE_ENV: 'test', HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: 'a:7000', HERALD_REDIS_TLS: 'true' });
      assert.deepEqual(redisEndpoint(cluster.redis).tls, {}, 'TLS with the system CAs');
      assert.equal(redisEndpoint(loadConfig({ NODE_ENV: 'test' }).redis).tls, undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
