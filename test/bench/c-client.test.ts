// The C reference client (scripts/bench/peers/c-client/ws-client.c), built with the
// system cc as the benchmarks build it, against a real uWebSockets.js server: it
// holds its connections over several processes, counts every message and reads
// the latency from the clock payload's "t", and reports on SIGTERM.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { buildCClient } from '../../scripts/bench/lib/client-runner';
import { clockPayload } from '../../scripts/loadtest/publisher';
import { startFixture } from '../loadtest/uws-fixture';

test('C client: 600 connections in 2 processes, 3 broadcasts, the report on SIGTERM', { timeout: 60_000 }, async () => {
  const bin = buildCClient();
  const fx = await startFixture();
  const c = spawn(bin, ['-c', '600', '--per-process', '300', '--source-ips', '127.0.0.2-127.0.0.3', '--progress-ms', '50', fx.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let latest = '';
    readline.createInterface({ input: c.stderr! }).on('line', (l) => (latest = l));
    const waitLine = async (re: RegExp): Promise<void> => {
      const until = Date.now() + 20_000;
      while (!re.test(latest)) {
        assert.ok(Date.now() < until && c.exitCode === null, `waiting for ${re}, last line: ${latest}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitLine(/^600\/600 connected/);
    for (let seq = 1; seq <= 3; seq++) {
      fx.publish(clockPayload(seq));
      await waitLine(new RegExp(`msgs=${600 * seq}\\b`));
    }
    fx.publish('not a clock payload');
    await waitLine(/msgs=2400\b/);
    let stdout = '';
    c.stdout!.on('data', (d: Buffer) => (stdout += d));
    const code = await new Promise<number | null>((resolve) => { c.once('exit', resolve); c.kill('SIGTERM'); });
    assert.equal(code, 0);
    assert.match(stdout, /\(2 client processes\)/);
    assert.match(stdout, /active connections: 600 \/ 600 {3}failed: 0 {3}dropped: 0/);
    assert.match(stdout, /errors \(attempts\): none/);
    assert.match(stdout, /latency: count=1800\n {2}min=\d+\.\d+ ms {2}max=\d+\.\d+ ms {2}mean=\d+\.\d+ ms {2}stddev=\d+\.\d+ ms\n {2}median=\S+ ms {2}75%=\S+ ms {2}95%=\S+ ms {2}98%=\S+ ms {2}99%=\S+ ms {2}99\.9%=\S+ ms/);
    assert.match(stdout, /messages: received=2400 untracked=600 rate=\d+\/s/);
  } finally {
    if (c.exitCode === null) c.kill('SIGKILL');
    await fx.close();
  }
});
