import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPreflight, preflight } from '../../scripts/bench/lib/kernel-check';
import { machine, markdown, type C1mResult } from '../../scripts/bench/lib/c1m-report';
import { childPids, processTree, readMeminfo, readNofile, readProcMemory, readSockstat, readSysctl, sumProcMemory } from '../../scripts/bench/lib/proc-stats';

describe('C1M benchmark libraries', () => {
  it('reads this process memory: RSS >= PSS > 0, USS > 0; a gone pid counts zero', () => {
    const m = readProcMemory(process.pid)!;
    assert.ok(m.rssBytes > 10e6 && m.pssBytes > 0 && m.ussBytes > 0 && m.rssBytes >= m.pssBytes);
    assert.equal(readProcMemory(2 ** 22 + 7), null);
    assert.equal(sumProcMemory([process.pid, 2 ** 22 + 7]).processes, 1);
  });

  it('reads meminfo, sockstat, sysctls, nofile and the process tree', () => {
    assert.ok(readMeminfo().MemAvailable > 0);
    assert.ok(readSockstat().tcpInuse >= 0);
    assert.match(readSysctl('net.ipv4.tcp_mem') ?? '', /^\d+ \d+ \d+$/);
    assert.equal(readSysctl('no.such.key'), undefined);
    assert.ok(readNofile().soft > 0);
    assert.deepEqual(childPids(2 ** 22 + 7), []);
    assert.equal(processTree(process.pid)[0], process.pid);
  });

  it('pre-flight: a small N fits; file-max and tcp_mem scale with N', () => {
    const small = preflight(1000, 2, 1, 1);
    assert.ok(small.checks.find((c) => c.name === 'fs.file-max')!.ok);
    assert.match(formatPreflight(small), /fs\.file-max = \d+; needs >= \d+/);
    const huge = preflight(100_000_000, 6000, 5300, 50_000);
    assert.equal(huge.fits, false);
    assert.equal(huge.memory.fits, false);
    assert.equal(huge.checks.find((c) => c.name === 'fs.file-max')!.ok, false);
  });

  it('markdown shows a failed run as FAIL with its reason and never invents figures', () => {
    const r: C1mResult = {
      command: 'npm run bench:c1m -- --connections 10', date: '2026-01-01T00:00:00.000Z', machine: machine(), ok: false,
      failure: 'held 9 of 10', options: {}, preflight: preflight(10, 2, 1, 1), sysctlChanges: [], scheduling: null, herald: null,
      connections: { target: 10, connected: 9, heraldCounted: null, failed: 1, errors: { refused: 3 }, timeToConnectAllMs: null, rampMs: 1234 },
      serverMemory: null, clientMemory: null, kernel: null, cpu: null, broadcasts: [], latencyMs: null, messages: null, durationMs: 5000,
    };
    const md = markdown(r);
    assert.match(md, /\*\*FAIL\*\* — held 9 of 10/);
    assert.match(md, /refused: 3/);
    assert.match(md, /not reached \(ramp 1,234 ms\)/);
    assert.match(md, /n\/a/);
  });
});
