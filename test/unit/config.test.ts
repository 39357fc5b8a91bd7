import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_DIR, ConfigError, configSources, describeSchema, loadConfig } from '../../src/config';

function tempFile(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-config-')), name);
  fs.writeFileSync(file, text);
  return file;
}

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

  it('reports a non-numeric environment value with the variable and the value', () => {
    assert.throws(() => loadConfig({ HERALD_PORT: 'abc' }), /^ConfigError: port: HERALD_PORT must be a whole number: value was "abc"$/);
    assert.throws(() => loadConfig({ HERALD_WORKERS: '4x' }), /workers: HERALD_WORKERS must be a whole number: value was "4x"/, 'not silently read as 4');
    assert.equal(loadConfig({ HERALD_WORKERS: ' 4 ' }).workers, 4);
  });

  it('names the file, line and column of a broken JSON file, and the file of an unknown key', () => {
    const broken = tempFile('broken.json', '{\n  "port": 80,\n  "log": { "level": "info" }\n  "workers": 2\n}\n');
    assert.throws(() => loadConfig({ HERALD_CONFIG: broken }), (err: Error) => err instanceof ConfigError && err.message === `${broken}: invalid JSON at line 4, column 3: Expected ',' or '}' after property value`);
    const unknown = tempFile('unknown.json', JSON.stringify({ redis: { urll: 'redis://x' } }));
    assert.throws(() => loadConfig({ HERALD_CONFIG: unknown }), new RegExp(`^ConfigError: ${unknown}: "redis\\.urll" is not a configuration key`));
    const wrongType = tempFile('wrong.json', JSON.stringify({ port: 'eighty' }));
    assert.throws(() => loadConfig({ HERALD_CONFIG: wrongType }), new RegExp(`${wrongType}: port must be a number: value was "eighty"`));
    assert.equal(loadConfig({ HERALD_CONFIG: tempFile('empty.json', '') }).port, 8080, 'an empty file is no settings');
  });

  it('takes any NODE_ENV name: its file when there is one, else default.json and a notice saying so', () => {
    const notices: string[] = [];
    const config = loadConfig({ NODE_ENV: 'staging' }, { notice: (m) => notices.push(m) });
    assert.equal(config.env, 'staging');
    assert.equal(config.broker, 'local', 'default.json alone');
    assert.deepEqual(notices, ['configuration: no config/staging.json for NODE_ENV=staging, loaded config/default.json and environment variables'].map((m) => m.replace(/config\//g, `${path.relative(process.cwd(), CONFIG_DIR)}/`)));
    assert.deepEqual(configSources({}).files, [path.join(CONFIG_DIR, 'default.json')], 'development needs no file of its own');
    assert.equal(configSources({}).missing, undefined);

    const own = path.join(CONFIG_DIR, `unit-test-${process.pid}.json`);
    fs.writeFileSync(own, JSON.stringify({ workers: 7 }));
    try {
      const quiet: string[] = [];
      assert.equal(loadConfig({ NODE_ENV: `unit-test-${process.pid}` }, { notice: (m) => quiet.push(m) }).workers, 7);
      assert.deepEqual(quiet, []);
    } finally {
      fs.rmSync(own);
    }
    for (const bad of ['../etc/passwd', 'a/b', '.hidden', 'x'.repeat(65)]) {
      assert.throws(() => loadConfig({ NODE_ENV: bad }), /env: NODE_ENV must be a name of 1 to 64 letters, digits, - and _/, bad);
    }
    assert.equal(loadConfig({ NODE_ENV: '' }).env, 'development', 'empty means unset');
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
