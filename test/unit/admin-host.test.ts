import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config';

describe('admin.host without an API key', () => {
  it('is accepted only for loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      assert.doesNotThrow(() => loadConfig({ NODE_ENV: 'test', HERALD_ADMIN_HOST: host }), host);
    }
    for (const host of ['127.0.0.1.example.invalid', '127.attacker.example', '0.0.0.0', '::', '10.0.0.1', 'example.com']) {
      assert.throws(() => loadConfig({ NODE_ENV: 'test', HERALD_ADMIN_HOST: host }), /admin\.host: .* is not a loopback address/, host);
    }
    assert.doesNotThrow(() => loadConfig({ NODE_ENV: 'test', HERALD_ADMIN_HOST: '0.0.0.0', HERALD_API_KEY: 'k' }));
  });
});
