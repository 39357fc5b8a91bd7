// bench:compare end to end at a small N: herald (Redis broker) and ws only, so
// no Java is needed. Checks the harness ran both, produced the table and JSON,
// and that every broadcast reached every connection.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { RunResult } from '../../scripts/bench/lib/compare-scenario';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'bench', 'compare.js');

test('bench:compare at 500 connections, herald and ws: table, JSON, nothing lost', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'compare-'));
  try {
    // A private lock file: a small smoke run need not wait for a C1M job holding the real one.
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, '--connections', '500', '--servers', 'herald,ws', '--idle', '1', '--broadcasts', '3',
        '--interval', '0.3', '--settle-max', '5', '--baseline-settle', '1', '--out-dir', dir, '--lock', path.join(dir, 'lock')], { timeout: 55_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^500\s+herald\s/m);
    assert.match(r.stdout, /^500\s+ws\s/m);
    assert.match(r.stdout, /herald \/ ws/);
    assert.match(r.stdout, /Scheduling: sched_autogroup_enabled=\S+ .*in the benchmark process's session/);
    const json = readdirSync(dir).find((f) => f.endsWith('.json'));
    assert.ok(json, 'a JSON result');
    assert.ok(readdirSync(dir).some((f) => f.endsWith('.svg')) && readdirSync(dir).some((f) => f.endsWith('.md')));
    const runs: RunResult[] = JSON.parse(readFileSync(path.join(dir, json), 'utf8')).runs;
    assert.deepEqual(runs.map((x) => x.server).sort(), ['herald', 'ws']);
    for (const x of runs) {
      assert.equal(x.ok, true, `${x.server}: ${x.failure}`);
      assert.equal(x.connected, 500);
      assert.equal(x.lost, 0);
      assert.equal(x.delivered, 1500);
      assert.ok(x.memory && x.memory.rssAfterIdle > 0);
      assert.equal(x.completionMs.length, 3);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
