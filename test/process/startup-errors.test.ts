import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PRIMARY } from '../../scripts/harness/herald-process';

/** Runs the primary to completion; these configurations must stop it at once. */
function runPrimary(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [PRIMARY], { env: { ...process.env, NODE_ENV: 'test', HERALD_PORT: '0', ...env }, encoding: 'utf8', timeout: 10_000 });
  return { code: result.status, output: result.stdout + result.stderr };
}

describe('start-up errors', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a port out of range', { HERALD_PORT: '70000' }, /invalid configuration: port: ports must be within range/],
    ['an unknown broker', { HERALD_BROKER: 'kafka' }, /invalid configuration: broker: must be one of local, redis/],
    ['a negative worker count', { HERALD_WORKERS: '-2' }, /invalid configuration: workers: must be an integer/],
    ['an idle timeout uWS cannot take', { HERALD_IDLE_TIMEOUT: '10' }, /liveness\.idleTimeoutSeconds: must be 0 or a multiple of 4/],
    ['a non-boolean flag', { HERALD_SEND_PINGS: 'yes' }, /liveness\.sendPings: must be true or false/],
    ['a bad Redis URL', { HERALD_REDIS_URL: 'http://x' }, /redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/],
    ['a public admin address without an API key', { HERALD_ADMIN_HOST: '0.0.0.0' }, /admin\.host: 0\.0\.0\.0 is not a loopback address, so admin\.apiKey/],
    ['a missing HERALD_CONFIG file', { HERALD_CONFIG: '/nonexistent/herald.json' }, /HERALD_CONFIG: file not found/],
  ];
  for (const [what, env, message] of cases) {
    it(`exits 78 naming the key for ${what}`, () => {
      const { code, output } = runPrimary(env);
      assert.equal(code, 78, output);
      assert.match(output, message);
    });
  }

  it('rejects an unknown key and a wrong type in a HERALD_CONFIG file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-config-'));
    const unknown = path.join(dir, 'unknown.json');
    fs.writeFileSync(unknown, JSON.stringify({ prot: 8080 }));
    let r = runPrimary({ HERALD_CONFIG: unknown });
    assert.equal(r.code, 78);
    assert.match(r.output, /prot/);
    const wrongType = path.join(dir, 'wrong.json');
    fs.writeFileSync(wrongType, JSON.stringify({ slowConsumer: { policy: 'ignore' } }));
    r = runPrimary({ HERALD_CONFIG: wrongType });
    assert.equal(r.code, 78);
    assert.match(r.output, /slowConsumer\.policy: must be one of skip, close/);
    fs.rmSync(dir, { recursive: true });
  });

  it('refuses to run on the pure-JS uWebSockets.js fallback', () => {
    const { code, output } = runPrimary({ UWS_USE_FALLBACK: '1' });
    assert.equal(code, 78, output);
    assert.match(output, /native uWebSockets\.js binary did not load.*refusing to run on the slow pure-JS fallback/);
  });
});
