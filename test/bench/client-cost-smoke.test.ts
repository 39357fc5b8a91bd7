// bench:client end to end at a small N: the TypeScript client, the C client and the
// minimal Node client one after the other against one bare uWebSockets.js server, every
// broadcast received by each, CPU figures and their ratios reported and written as dated
// JSON and markdown.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ClientRun } from '../../scripts/bench/client-cost';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'bench', 'client-cost.js');

test('bench:client at 600 connections: all three clients, every message, CPU per connect and per message', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'client-cost-'));
  try {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, '-c', '600', '--clients', 'ts,c,node-min', '--broadcasts', '3', '--idle', '0.2', '--out-dir', dir, '--lock', path.join(dir, 'lock')],
        { timeout: 80_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^\| TypeScript \(npm run loadtest\) \| 1 \| [\d.]+ s \| [\d.]+ us \| [\d.]+ us \| [\d.]+ us \|/m);
    assert.match(r.stdout, /^\| C \(ws-client\.c\) \| 1 \|/m);
    assert.match(r.stdout, /^\| minimal Node \(node-min-client\) \| 1 \|/m);
    assert.match(r.stdout, /^Minimal Node \/ C \(what Node itself costs\): ([\d.]+x|n\/a) per connect/m);
    assert.match(r.stdout, /^TypeScript \/ minimal Node \(what the load client's own work costs\): ([\d.]+x|n\/a) per connect/m);
    // At this N the C client may use less than one 10 ms /proc tick: then a ratio is n/a.
    assert.match(r.stdout, /TypeScript \/ C: \*\*([\d.]+x|n\/a)\*\* per connect over the ramp \(([\d.]+x|n\/a) with process start-up\), \*\*([\d.]+x|n\/a)\*\* per received message/);
    const json = readdirSync(dir).find((f) => /^client-cost-600-.*\.json$/.test(f));
    assert.ok(json && readdirSync(dir).includes(json.replace(/json$/, 'md')));
    const runs: ClientRun[] = JSON.parse(readFileSync(path.join(dir, json), 'utf8')).runs;
    assert.deepEqual(runs.map((x) => x.client), ['ts', 'c', 'node-min']);
    for (const x of runs) {
      assert.equal(x.ok, true, `${x.client}: ${x.failure}`);
      assert.equal(x.received, 1800);
      assert.ok(x.connectCpuUs !== null && x.messageCpuUs !== null && x.startupCpu !== null);
      // the client's own report: every copy timed from its stamp (the minimal client only counts)
      if (x.client === 'node-min') assert.match(x.report, /^node-min-client: 600\/600 connected errors=0 failed=0 msgs=1800$/m);
      else assert.match(x.report, /latency: count=1800\n/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
