// bench:users end to end at a small N, one Redis and a 3-shard cluster: both
// setups measured, every per-user message delivered to its own connection,
// the table and the JSON written.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { UsersResult } from '../../scripts/bench/lib/users-report';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'bench', 'users.js');

test('bench:users at 500 connections on one Redis and a 3-shard cluster: nothing lost or misdelivered, table and JSON', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'users-'));
  try {
    // A private lock file: a small smoke run need not wait for a big job holding the real one.
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, '--connections', '500', '--duration', '2', '--rate', '500', '--workers', '2', '--out', dir, '--lock', path.join(dir, 'lock')], { timeout: 110_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr })));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const json = readdirSync(dir).find((f) => /^users-500-.*\.json$/.test(f));
    assert.ok(json, `a JSON result in ${readdirSync(dir)}`);
    const md = readFileSync(path.join(dir, json.replace(/json$/, 'md')), 'utf8');
    assert.match(md, /\| {2}\| one Redis \| Redis Cluster, 3 shards \|/);
    const result: UsersResult = JSON.parse(readFileSync(path.join(dir, json), 'utf8'));
    assert.equal(result.ok, true, result.failure ?? '');
    assert.deepEqual(result.setups.map((s) => [s.setup, s.redisNodes.length]), [['standalone', 1], ['cluster', 3]]);
    for (const s of result.setups) {
      assert.equal(s.connect.privateTopic?.connected, 500, s.setup);
      assert.equal(s.connect.broadcastOnly?.connected, 500, s.setup);
      assert.equal(s.connect.broadcastOnly?.subscribeCommandsPerConnect, 0, 'broadcast only subscribes nothing per connect');
      assert.ok(s.connect.privateTopic!.subscribeCommandsPerConnect > 0 && s.connect.privateTopic!.subscribeCommandsPerConnect <= 1, `${s.setup}: ${s.connect.privateTopic!.subscribeCommandsPerConnect}`);
      assert.deepEqual(s.broadcastCheck, { expected: 500, received: 500 });
      const run = s.run!;
      assert.ok(run.sent > 0 && run.owed === run.sent, `${s.setup}: every publish had its user's worker (${run.owed} of ${run.sent})`);
      assert.deepEqual([run.received, run.lost, run.misdelivered], [run.owed, 0, 0], s.setup);
      assert.ok(run.latencyMs.count === run.received && run.latencyMs.p99 > 0);
      assert.ok(run.cores.herald > 0 && s.redisNodes.every((n) => `redis ${n}` in run.cores));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
