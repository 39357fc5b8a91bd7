import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HeraldProcess, PRIMARY } from '../../scripts/harness/herald-process';

function runPrimary(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [PRIMARY], { env: { ...process.env, NODE_ENV: 'test', HERALD_PORT: '0', ...env }, encoding: 'utf8', timeout: 10_000 });
  return { code: result.status, output: result.stdout + result.stderr };
}

describe('configuration errors and environments at start-up', () => {
  it('exits 78 with the variable and its value for a non-numeric setting', () => {
    const { code, output } = runPrimary({ HERALD_PORT: 'abc' });
    assert.equal(code, 78, output);
    assert.match(output, /invalid configuration: port: HERALD_PORT must be a whole number: value was "abc"/);
  });

  it('exits 78 naming the file, line and column of a broken JSON file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-config-')), 'herald.json');
    fs.writeFileSync(file, '{ "port": 8080, }');
    const { code, output } = runPrimary({ HERALD_CONFIG: file });
    assert.equal(code, 78, output);
    assert.match(output, new RegExp(`invalid configuration: ${file}: invalid JSON at line 1, column 17: `));
  });

  it('exits 78 for a NODE_ENV that is not a plain name', () => {
    const { code, output } = runPrimary({ NODE_ENV: '../../etc/herald' });
    assert.equal(code, 78, output);
    assert.match(output, /env: NODE_ENV must be a name/);
  });

  it('starts with NODE_ENV=staging and no config/staging.json, saying so once', async () => {
    const herald = await new HeraldProcess({ env: { NODE_ENV: 'staging' } }).start();
    try {
      const notices = herald.output.match(/no config\/staging\.json for NODE_ENV=staging, loaded config\/default\.json/g) ?? [];
      assert.equal(notices.length, 1, herald.output);
    } finally {
      assert.equal(await herald.stop(), 0);
    }
  });
});
