/**
 * The C1M benchmark's pre-flight: reads the kernel and process limits that cap
 * how many loopback connections this box can hold, says for each whether N
 * fits, estimates memory, and (only with --tune) raises sysctls that are too
 * low, reporting exactly what it changed. It never lowers anything.
 */
import { execFileSync } from 'node:child_process';
import { planKernelLimits } from '../../../src/capacity/kernel-limits';
import { sysctlReader } from '../../../src/capacity/sysctl-reader';
import { readMeminfo, readNofile, readSockstat, type Sockstat } from './proc-stats';

export interface LimitCheck {
  name: string;
  current: string;
  /** what N needs, in the same format */
  wanted: string;
  ok: boolean;
  note?: string;
  /** the sysctl value --tune would write, when a sysctl can fix it */
  tuneTo?: string;
}

export interface MemoryEstimate {
  kernelBytes: number;
  serverBytes: number;
  clientBytes: number;
  totalBytes: number;
  memAvailableBytes: number;
  fits: boolean;
}

export interface Preflight {
  connections: number;
  serverWorkers: number;
  clientProcesses: number;
  checks: LimitCheck[];
  memory: MemoryEstimate;
  sockstat: Sockstat;
  /** every check passes and the memory estimate fits */
  fits: boolean;
}

/** Per-connection and per-process costs used for the estimate (measured on this box, rounded up). */
export const BUDGET = {
  kernelPerSocket: 3.2 * 1024, // two sockets per loopback connection
  serverPerConnection: 2.5 * 1024,
  serverPerProcess: 70 * 1024 * 1024,
  clientPerConnection: 2 * 1024,
  clientPerProcess: 50 * 1024 * 1024,
};

export function preflight(n: number, serverWorkers: number, clientProcesses: number, sourceAddresses: number): Preflight {
  // The sysctls come from the one table herald's start-up check and scripts/tune-linux.sh also use.
  const checks: LimitCheck[] = planKernelLimits({ connections: n, workers: serverWorkers, loopback: true, clientProcesses, sourceAddresses }).map((p) => ({
    name: p.key,
    current: p.current!,
    wanted: p.needs,
    ok: p.ok,
    tuneTo: p.next,
  }));
  const nofile = readNofile();
  const perProcess = Math.min(Math.ceil(n / Math.max(1, serverWorkers)), 19_000) + 300;
  checks.push({
    name: 'nofile (this process, inherited)',
    current: `${nofile.soft}/${nofile.hard}`,
    wanted: `>= ${perProcess} per process`,
    ok: nofile.soft >= perProcess,
    note: `hard limit, cannot be raised here: spread over ${serverWorkers} herald workers and ${clientProcesses} client processes`,
  });

  const mem = readMeminfo();
  const kernelBytes = 2 * n * BUDGET.kernelPerSocket;
  const serverBytes = n * BUDGET.serverPerConnection + serverWorkers * BUDGET.serverPerProcess;
  const clientBytes = n * BUDGET.clientPerConnection + clientProcesses * BUDGET.clientPerProcess;
  const totalBytes = kernelBytes + serverBytes + clientBytes;
  const memory: MemoryEstimate = { kernelBytes, serverBytes, clientBytes, totalBytes, memAvailableBytes: mem.MemAvailable ?? 0, fits: totalBytes < (mem.MemAvailable ?? 0) * 0.95 };
  return { connections: n, serverWorkers, clientProcesses, checks, memory, sockstat: readSockstat(), fits: memory.fits && checks.every((c) => c.ok) };
}

const readSysctl = sysctlReader();

export interface SysctlChange { name: string; from: string; to: string }

/** Raises the sysctls that fail their check (never lowers one). Returns what it changed. */
export function applyTuning(p: Preflight): SysctlChange[] {
  const changes: SysctlChange[] = [];
  for (const c of p.checks) {
    if (c.ok || c.tuneTo === undefined) continue;
    const name = c.name;
    const from = readSysctl(name) ?? '';
    execFileSync('sysctl', ['-q', '-w', `${name}=${c.tuneTo}`]);
    const to = readSysctl(name) ?? '';
    changes.push({ name, from, to });
    c.ok = true;
    c.current = to;
  }
  p.fits = p.memory.fits && p.checks.every((c) => c.ok);
  return changes;
}

const mb = (b: number): string => `${Math.round(b / 1048576)} MB`;

export function formatPreflight(p: Preflight): string {
  const lines = [`kernel and process limits for ${p.connections} loopback connections (${p.serverWorkers} herald workers, ${p.clientProcesses} client processes):`];
  for (const c of p.checks) {
    lines.push(`  ${c.ok ? 'ok  ' : 'LOW '} ${c.name} = ${c.current}; needs ${c.wanted}${c.ok || !c.tuneTo ? '' : `  (fix: sysctl -w ${c.name}='${c.tuneTo}', or run with --tune)`}${c.note ? `  [${c.note}]` : ''}`);
  }
  const s = p.sockstat;
  lines.push(`  /proc/net/sockstat: sockets used ${s.socketsUsed}, TCP inuse ${s.tcpInuse}, orphan ${s.tcpOrphan}, tw ${s.tcpTimeWait}, alloc ${s.tcpAlloc}, mem ${s.tcpMemPages} pages`);
  const m = p.memory;
  lines.push(`  memory estimate: kernel ${mb(m.kernelBytes)} + herald ${mb(m.serverBytes)} + client ${mb(m.clientBytes)} = ${mb(m.totalBytes)} vs MemAvailable ${mb(m.memAvailableBytes)}: ${m.fits ? 'fits' : 'DOES NOT FIT'}`);
  return lines.join('\n');
}
