import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { ReconnectingClient } from '../helpers/reconnecting-client';

describe('rolling restart', () => {
  it('SIGHUP replaces every worker under 3000 connections: none refused, all reconnected, closes spread over the window', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2', HERALD_RESTART_DRAIN_WINDOW: '2' } }).start();
    const clients = Array.from({ length: 3000 }, () => new ReconnectingClient(herald.wsUrl));
    try {
      for (let i = 0; i < clients.length; i += 200) await Promise.all(clients.slice(i, i + 200).map((c) => c.open()));
      const before = await waitFor('3000 connected on both workers', async () => {
        const s = await herald.stats();
        return s.connections === 3000 && s.perWorker.every((w) => w.connections > 0) ? s : undefined;
      });
      const oldPids = before.perWorker.map((w) => w.pid);

      const started = Date.now();
      herald.child.kill('SIGHUP');
      await waitFor('roll finished', () => /rolling restart done/.test(herald.output), 40_000, 100);
      const after = await waitFor('everyone back', async () => {
        const s = await herald.stats();
        return s.connections === 3000 && clients.every((c) => c.isOpen) ? s : undefined;
      }, 15_000, 100);

      assert.deepEqual(clients.flatMap((c) => c.failures), [], 'no upgrade was refused');
      assert.ok(after.perWorker.every((w) => w.up && !oldPids.includes(w.pid)), `new pids ${after.perWorker.map((w) => w.pid)} vs ${oldPids}`);
      const closes = clients.flatMap((c) => c.closes);
      assert.ok(closes.every((c) => c.code === 4000), `close codes: ${[...new Set(closes.map((c) => c.code))]}`);
      assert.ok(clients.every((c) => c.closes.length >= 1), 'every client was moved at least once');
      // Two workers, each draining over 2 s: the reconnects cannot all have come at once.
      const span = Math.max(...closes.map((c) => c.at)) - Math.min(...closes.map((c) => c.at));
      assert.ok(span >= 2500, `closes spread over ${span} ms`);
      assert.ok(Date.now() - started < 30_000);

      await herald.publish('broadcast', 'after roll');
      await waitFor('all got the broadcast', () => clients.every((c) => c.current!.messages.some((m) => m.data.toString() === 'after roll')), 10_000);
      assert.equal((await herald.health()).status, 200);
    } finally {
      for (const c of clients) c.stop();
      assert.equal(await herald.stop(), 0);
    }
  });

  it('SIGUSR2 rolls too; an invalid configuration file stops the roll before any worker is touched', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-conf-')), 'extra.json');
    fs.writeFileSync(file, '{}');
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_CONFIG: file, HERALD_RESTART_DRAIN_WINDOW: '0' } }).start();
    try {
      const first = (await herald.stats()).perWorker[0].pid;
      herald.child.kill('SIGUSR2');
      await waitFor('roll done', () => /rolling restart done/.test(herald.output), 20_000);
      const second = (await herald.stats()).perWorker[0].pid;
      assert.notEqual(second, first);

      fs.writeFileSync(file, JSON.stringify({ liveness: { idleTimeoutSeconds: 7 } }));
      herald.child.kill('SIGHUP');
      await waitFor('refusal logged', () => /rolling restart refused: invalid configuration/.test(herald.output));
      assert.match(herald.output, /idleTimeoutSeconds/);
      const s = await herald.stats();
      assert.equal(s.perWorker[0].pid, second, 'the running worker was kept');
      assert.equal((await herald.health()).status, 200);
    } finally {
      await herald.stop();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
