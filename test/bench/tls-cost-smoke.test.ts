import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'bench', 'tls-cost.js');
/** What the run starts, from this checkout: herald's primary and workers, load-client processes. */
const OURS = ['workers/primary.js', 'workers/gateway-worker.js', 'scripts/loadtest/load-worker.js'].map((f) => path.join(__dirname, '..', '..', f));

it('bench tls-cost end to end at 300 connections: ws and wss rows, a new result file, nothing left running', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-cost-'));
  try {
    // A private lock file: a small smoke run need not wait for a benchmark holding the real one.
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [CLI, '--connections', '300', '--per-process', '150', '--out-dir', dir, '--lock', path.join(dir, 'lock')], { timeout: 120_000 }, (err, out, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
      ),
    );
    const rows = stdout.split('\n').filter((l) => /^\| wss? \| 1 \| 300 \|/.test(l));
    assert.equal(rows.length, 2, stdout);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('tls-cost-300-'));
    assert.deepEqual(files.map((f) => path.extname(f)).sort(), ['.json', '.md']);
    const result = JSON.parse(fs.readFileSync(path.join(dir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as { runs: { mode: string; connected: number; broadcastReceived: number }[] };
    assert.deepEqual(result.runs.map((r) => [r.mode, r.connected, r.broadcastReceived]), [['ws', 300, 300], ['wss', 300, 300]]);
    const left = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return OURS.some((file) => cmd.includes(file));
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, [], 'no process of the run is left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
