// bench:floor end to end at a small N: herald and bare uWebSockets.js, each with the C
// and the TypeScript client, every broadcast delivered, the figures and ratios printed
// and written as dated JSON and markdown, nothing left running.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FloorRun } from '../../scripts/bench/floor';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'bench', 'floor.js');

test('bench:floor at 500 connections: both servers with both clients, every broadcast, ratios', { timeout: 150_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'floor-'));
  try {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, '-c', '500', '--broadcasts', '2', '--after-ramp', '1', '--idle', '1', '--settle', '0', '--out-dir', dir, '--lock', path.join(dir, 'lock')],
        { timeout: 140_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const client of ['C \\(ws-client\\.c\\)', 'TypeScript \\(npm run loadtest\\)']) assert.match(r.stdout, new RegExp(`### Client: ${client}`));
    assert.equal((r.stdout.match(/^\| \*\*herald \/ bare uWS\*\* \(medians\) \| \| \| \| \| \*\*[\d.]+x\*\* /gm) ?? []).length, 2, r.stdout);
    assert.match(r.stdout, /On herald, TypeScript client \/ C client: connect-all \*\*[\d.]+x\*\*/);
    const json = readdirSync(dir).find((f) => /^floor-500-.*\.json$/.test(f));
    assert.ok(json && readdirSync(dir).includes(json.replace(/json$/, 'md')));
    assert.match(readFileSync(path.join(dir, json.replace(/json$/, 'md')), 'utf8'), /V8 flags: bare uWS processes run with herald workers' default `--max-semi-space-size=1`/);
    const runs: FloorRun[] = JSON.parse(readFileSync(path.join(dir, json), 'utf8')).runs;
    // The server order flips between the two clients.
    assert.deepEqual(runs.map((x) => `${x.client}:${x.server}`), ['c:herald', 'c:uws-bare', 'ts:uws-bare', 'ts:herald']);
    for (const x of runs) {
      assert.equal(x.ok, true, `${x.server}/${x.client}: ${x.failure}`);
      assert.equal(x.connected, 500);
      assert.equal(x.delivered, 1000);
      assert.equal(x.completionSeconds.length, 2);
      assert.ok(x.serverCpuUsPerMessage !== null && x.afterRampCores !== null && x.idleCores !== null && x.rssPerConn !== null);
    }
    // Every peer server and client process is gone.
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => /uws-bare-server|(ws-client|loadtest\.js) --connections 500 /.test(l));
    assert.deepEqual(left, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench:floor --servers herald-envelope,herald: envelope clients against raw ones, ratio envelope / raw', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'floor-'));
  try {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, '-c', '300', '--servers', 'herald-envelope,herald', '--clients', 'c', '--broadcasts', '2', '--idle', '1', '--settle', '0', '--out-dir', dir, '--lock', path.join(dir, 'lock')],
        { timeout: 110_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^\| \*\*herald envelope \/ herald\*\* \(medians\) \| \| \| \| \| \*\*[\d.]+x\*\* /m);
    const json = readdirSync(dir).find((f) => /^floor-300-.*\.json$/.test(f))!;
    const runs: FloorRun[] = JSON.parse(readFileSync(path.join(dir, json), 'utf8')).runs;
    assert.deepEqual(runs.map((x) => x.server), ['herald-envelope', 'herald']);
    for (const x of runs) {
      assert.equal(x.ok, true, `${x.server}: ${x.failure}`);
      assert.equal(x.delivered, 600);
      assert.equal(/format=envelope/.test(x.clientCommand), x.server === 'herald-envelope', x.clientCommand);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
