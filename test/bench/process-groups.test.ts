// Benchmarks start servers as process-group leaders in their own session (setpgid,
// not setsid): with scheduler autogroups on, a server in a session of its own would
// get one CPU share against all the load clients (issue 12).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startRedis } from '../../scripts/bench/lib/process-groups';
import { isAlive } from '../../scripts/bench/lib/proc-stats';

/** [pgrp, session] of a process, from /proc/<pid>/stat */
function groupAndSession(pid: number | 'self'): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[2]), Number(f[3])];
}

test('a benchmark server leads its own process group in the benchmark session, and stops with it', async () => {
  const redis = await startRedis(100);
  try {
    const [pgrp, session] = groupAndSession(redis.pid);
    assert.equal(pgrp, redis.pid, 'leader of its own group');
    assert.equal(session, groupAndSession('self')[1], 'same session as the benchmark');
  } finally {
    await redis.stop();
  }
  assert.equal(isAlive(redis.pid), false);
});
