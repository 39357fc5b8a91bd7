import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, describeSchema, loadConfig } from '../../src/config';

describe('configuration schema', () => {
  it('loads defaults and lets environment variables override files', () => {
    const config = loadConfig({ NODE_ENV: 'test', HERALD_PORT: '9999', HERALD_WORKERS: '3' });
    assert.equal(config.port, 9999);
    assert.equal(config.workers, 3);
    assert.equal(config.broker, 'local');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.redis), 'config is deep-frozen');
  });

  it('uses Redis in production', () => {
    assert.equal(loadConfig({ NODE_ENV: 'production' }).broker, 'redis');
  });

  it('names the key and the reason on a bad value', () => {
    assert.throws(() => loadConfig({ HERALD_ADMIN_PORT: 'abc' }), (err: Error) => err instanceof ConfigError && /admin\.port/.test(err.message));
    assert.throws(() => loadConfig({ HERALD_SLOW_CONSUMER_POLICY: 'drop' }), /slowConsumer\.policy: must be one of skip, close/);
    assert.throws(() => loadConfig({ HERALD_RESPAWN_MIN_DELAY_MS: '5000', HERALD_RESPAWN_MAX_DELAY_MS: '10' }), /respawn\.maxDelayMs/);
    assert.throws(() => loadConfig({ HERALD_CLOCK_TOPIC: 'bad topic' }), /clock\.topic/);
  });

  it('gives every key a doc string, a default and an environment variable', () => {
    const rows = describeSchema();
    assert.ok(rows.length > 20);
    for (const row of rows) {
      assert.ok(row.doc.length > 10, `${row.key} has a doc`);
      assert.ok(row.default !== undefined, `${row.key} has a default`);
      assert.match(row.env, /^(HERALD_[A-Z_]+|NODE_ENV)$/, `${row.key} has an env var`);
    }
  });
});
