import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkKernelLimits, KERNEL_LIMITS, KERNEL_SETTINGS, planKernelLimits, planKernelTuning, type LimitTarget } from '../../src/capacity/kernel-limits';
import { sysctlReader } from '../../src/capacity/sysctl-reader';

const TUNE = path.join(__dirname, '..', '..', '..', 'scripts', 'tune-linux.sh');

/** Debian 12 defaults on a 24 GiB box, plus keys the script must never touch. */
const DEFAULTS: Record<string, string> = {
  'fs.file-max': '2466170',
  'fs.nr_open': '1048576',
  'net.core.somaxconn': '4096',
  'net.core.netdev_max_backlog': '1000',
  'net.ipv4.tcp_max_syn_backlog': '2048',
  'net.ipv4.ip_local_port_range': '32768\t60999',
  'net.ipv4.tcp_mem': '287898\t383867\t575796',
  'net.ipv4.tcp_rmem': '4096\t131072\t33554432',
  'net.ipv4.tcp_wmem': '4096\t16384\t4194304',
  'net.ipv4.tcp_tw_reuse': '2',
  'vm.overcommit_memory': '0',
  'net.netfilter.nf_conntrack_max': '262144',
  'net.netfilter.nf_conntrack_count': '0',
  'net.ipv4.tcp_migrate_req': '0',
};

/** A copy of /proc/sys holding `values`, as the tune script's HERALD_PROC_SYS takes it. */
function fakeProcSys(values: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-proc-sys-'));
  for (const [key, value] of Object.entries(values)) {
    const file = path.join(root, ...key.split('.'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${value}\n`);
  }
  return root;
}

const target = (connections: number, more: Partial<LimitTarget> = {}): LimitTarget => ({ connections, workers: 16, loopback: false, clientProcesses: 0, sourceAddresses: 1, ...more });
const fields = (v: string | undefined): number[] => (v ?? '').split(' ').map(Number);

describe('kernel limits: one table, sized from the target, only raising', () => {
  const dirs: string[] = [];
  const fake = (values: Record<string, string>) => {
    const dir = fakeProcSys(values);
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('changes nothing on a default box for 20,000 connections (no GiB-sized tcp_mem)', () => {
    const plans = planKernelLimits(target(20_000), sysctlReader(fake(DEFAULTS)));
    assert.deepEqual(plans.filter((p) => !p.ok), []);
    assert.equal(plans.find((p) => p.key === 'net.ipv4.tcp_mem')!.needs, '>= 20000 30000 40000');
  });

  it('raises tcp_mem for a million, field by field, and never writes below the current value', () => {
    const plans = planKernelLimits(target(1_000_000), sysctlReader(fake(DEFAULTS)));
    assert.deepEqual(plans.filter((p) => !p.ok).map((p) => [p.key, p.next]), [['net.ipv4.tcp_mem', '1000000 1500000 2000000']]);
    const high = { ...DEFAULTS, 'net.ipv4.tcp_mem': '900000 3000000 9000000', 'fs.file-max': '100' };
    for (const p of planKernelLimits(target(1_000_000), sysctlReader(fake(high)))) {
      if (p.ok) continue;
      fields(p.current).forEach((cur, i) => assert.ok(fields(p.next)[i] >= cur, `${p.key} would lower field ${i}`));
    }
    const tcpMem = planKernelLimits(target(1_000_000), sysctlReader(fake(high))).find((p) => p.key === 'net.ipv4.tcp_mem')!;
    assert.equal(tcpMem.next, '1000000 3000000 9000000', 'only the low field was short');
  });

  it('knows nothing of tcp_rmem/tcp_wmem, tcp_tw_reuse, overcommit or backlogs it cannot justify', () => {
    const keys = KERNEL_LIMITS.map((l) => l.key);
    for (const k of ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem', 'net.ipv4.tcp_tw_reuse', 'vm.overcommit_memory', 'net.core.netdev_max_backlog', 'net.ipv4.tcp_max_syn_backlog']) {
      assert.ok(!keys.includes(k), k);
    }
  });

  it('plans the port range only when clients dial from this box, widening upwards first', () => {
    const read = sysctlReader(fake(DEFAULTS));
    assert.ok(!planKernelLimits(target(100_000), read).some((p) => p.key === 'net.ipv4.ip_local_port_range'));
    const range = planKernelLimits(target(100_000, { loopback: true, sourceAddresses: 2 }), read).find((p) => p.key === 'net.ipv4.ip_local_port_range')!;
    assert.equal(range.ok, false);
    assert.equal(range.next, '15536 65535', '50,000 ports: up to 65535, then down as far as needed');
    assert.ok(planKernelLimits(target(40_000, { loopback: true, sourceAddresses: 2 }), read).find((p) => p.key === 'net.ipv4.ip_local_port_range')!.ok);
  });

  it('sizes conntrack only while netfilter tracks connections', () => {
    assert.ok(planKernelLimits(target(1_000_000), sysctlReader(fake(DEFAULTS))).find((p) => p.key === 'net.netfilter.nf_conntrack_max')!.ok);
    const tracking = { ...DEFAULTS, 'net.netfilter.nf_conntrack_count': '12' };
    assert.equal(planKernelLimits(target(1_000_000), sysctlReader(fake(tracking))).find((p) => p.key === 'net.netfilter.nf_conntrack_max')!.next, '2000000');
    const { ['net.netfilter.nf_conntrack_max']: _gone, ...noModule } = DEFAULTS;
    assert.ok(!planKernelLimits(target(1_000_000), sysctlReader(fake(noModule))).some((p) => p.key === 'net.netfilter.nf_conntrack_max'));
  });

  it('turns on tcp_migrate_req for the tune script only: it caps nothing, so the start-up check and pre-flight leave it out', () => {
    const plans = planKernelTuning(target(20_000), sysctlReader(fake(DEFAULTS)));
    assert.deepEqual(plans.filter((p) => !p.ok).map((p) => [p.key, p.next]), [['net.ipv4.tcp_migrate_req', '1']]);
    assert.deepEqual(plans.map((p) => p.key).slice(0, -1), planKernelLimits(target(20_000), sysctlReader(fake(DEFAULTS))).map((p) => p.key), 'the limits first, then the settings');
    assert.ok(planKernelTuning(target(20_000), sysctlReader(fake({ ...DEFAULTS, 'net.ipv4.tcp_migrate_req': '1' }))).every((p) => p.ok));
    const { ['net.ipv4.tcp_migrate_req']: _gone, ...oldKernel } = DEFAULTS;
    assert.ok(!planKernelTuning(target(20_000), sysctlReader(fake(oldKernel))).some((p) => p.key === 'net.ipv4.tcp_migrate_req'), 'before Linux 5.14: no such key, nothing planned');
    assert.ok(!planKernelLimits(target(20_000), sysctlReader(fake(DEFAULTS))).some((p) => p.key === 'net.ipv4.tcp_migrate_req'));
    assert.deepEqual(checkKernelLimits({ targetConnections: 20_000, workers: 16, nofileSoft: 1_048_576, nofileHard: 1_048_576 }, sysctlReader(fake(DEFAULTS))), []);
  });

  it('is the table the README documents', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('### Kernel and file limits');
    const section = readme.slice(start, readme.indexOf('\n#', start + 1));
    const documented = [...section.matchAll(/^\| `([a-z0-9_.-]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented, [...KERNEL_LIMITS, ...KERNEL_SETTINGS].map((l) => l.key));
  });

  it('feeds the start-up check: each finding carries the line that lifts it', () => {
    const findings = checkKernelLimits({ targetConnections: 1_000_000, workers: 16, nofileSoft: 20_000, nofileHard: 20_000 }, sysctlReader(fake(DEFAULTS)));
    assert.deepEqual(findings.map((f) => f.name), ['net.ipv4.tcp_mem', 'nofile (per process)']);
    assert.match(findings[0].fix, /sysctl -w net\.ipv4\.tcp_mem='1000000 1500000 2000000'/);
    assert.match(findings[1].fix, /LimitNOFILE=63524/);
  });
});

describe('scripts/tune-linux.sh on a copy of /proc/sys', () => {
  let dir: string;
  const tune = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync('bash', [TUNE, ...args], { env: { ...process.env, HERALD_PROC_SYS: dir, ...env }, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  before(() => {
    dir = fakeProcSys({ ...DEFAULTS, 'net.netfilter.nf_conntrack_count': '5' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints a stable plan in which every changed line has its reason above it', () => {
    const a = tune(['--dry-run', '--connections', '1000000', '--workers', '16']);
    assert.equal(a.code, 0, a.err);
    assert.equal(tune(['--dry-run', '--connections', '1000000', '--workers', '16']).out, a.out, 'same input, same output');
    const lines = a.out.split('\n');
    const changed = lines.map((l, i) => [l, i] as const).filter(([l]) => /^[a-z]/.test(l));
    assert.deepEqual(changed.map(([l]) => l), ['net.ipv4.tcp_mem = 1000000 1500000 2000000', 'net.netfilter.nf_conntrack_max = 2000000', 'net.ipv4.tcp_migrate_req = 1']);
    for (const [line, i] of changed) {
      const key = line.split(' = ')[0];
      assert.match(lines[i - 1], /^# now .*; needs >= /, `${key}: current and need above it`);
      assert.match(lines[i - 2], new RegExp(`^# ${key.replace(/\./g, '\\.')}: \\S.{20,}`), `${key}: reason above it`);
    }
    assert.doesNotMatch(a.out, /tcp_rmem|tcp_wmem|overcommit|tw_reuse/);
    assert.match(a.out, /dry run: nothing changed \(3 sysctl line\(s\) would be applied\)/);
  });

  it('plans only tcp_migrate_req for 20,000 connections on the same box, and nothing once it is on', () => {
    const r = tune(['--dry-run', '--connections', '20000', '--workers', '16']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.match(/^[a-z].*$/gm), ['net.ipv4.tcp_migrate_req = 1']);
    const on = fakeProcSys({ ...DEFAULTS, 'net.ipv4.tcp_migrate_req': '1' });
    try {
      const r2 = tune(['--dry-run', '--connections', '20000', '--workers', '16'], { HERALD_PROC_SYS: on });
      assert.equal(r2.code, 0, r2.err);
      assert.doesNotMatch(r2.out, /^[a-z]/m);
      assert.match(r2.out, /every kernel limit is already enough/);
    } finally {
      fs.rmSync(on, { recursive: true, force: true });
    }
  });

  it('refuses to apply a plan made from a copy, and leaves the copy untouched', () => {
    const before = fs.readFileSync(path.join(dir, 'net', 'ipv4', 'tcp_mem'), 'utf8');
    const r = tune(['--connections', '1000000']);
    assert.equal(r.code, 2);
    assert.match(r.err, /only --dry-run plans against it/);
    assert.equal(fs.readFileSync(path.join(dir, 'net', 'ipv4', 'tcp_mem'), 'utf8'), before);
  });

  it('rejects a bad target with a message', () => {
    const r = tune(['--dry-run', '--connections', 'many']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /--connections must be a positive integer, not "many"/);
  });
});
