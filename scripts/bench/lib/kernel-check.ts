/**
 * The C1M benchmark's pre-flight: reads the kernel and process limits that cap
 * how many loopback connections this box can hold, says for each whether N
 * fits, estimates memory, and (only with --tune) raises sysctls that are too
 * low, reporting exactly what it changed. It never lowers anything.
 */
import { execFileSync } from 'node:child_process';
import { readMeminfo, readNofile, readSockstat, readSysctl, type Sockstat } from './proc-stats';

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

const num = (s: string | undefined): number => Number(s ?? NaN);

export function preflight(n: number, serverWorkers: number, clientProcesses: number, sourceAddresses: number): Preflight {
  const checks: LimitCheck[] = [];
  const processes = serverWorkers + clientProcesses + 8;
  // Both ends are on this box: two descriptors per connection, plus each process's own.
  const filesWanted = 2 * n + processes * 200 + 100_000;
  const fileMax = num(readSysctl('fs.file-max'));
  checks.push({ name: 'fs.file-max', current: String(fileMax), wanted: `>= ${filesWanted}`, ok: fileMax >= filesWanted, tuneTo: String(filesWanted) });

  const nofile = readNofile();
  const perProcess = Math.ceil(n / Math.max(1, serverWorkers));
  checks.push({
    name: 'nofile (this process, inherited)',
    current: `${nofile.soft}/${nofile.hard}`,
    wanted: `>= ${Math.min(perProcess, 19_000) + 300} per process`,
    ok: nofile.soft >= Math.min(perProcess, 19_000) + 300,
    note: `hard limit, cannot be raised here: spread over ${serverWorkers} herald workers and ${clientProcesses} client processes`,
  });
  const nrOpen = num(readSysctl('fs.nr_open'));
  checks.push({ name: 'fs.nr_open', current: String(nrOpen), wanted: `>= ${nofile.soft}`, ok: nrOpen >= nofile.soft });

  const somaxconn = num(readSysctl('net.core.somaxconn'));
  checks.push({ name: 'net.core.somaxconn', current: String(somaxconn), wanted: '>= 4096', ok: somaxconn >= 4096, tuneTo: '4096' });
  const synBacklog = num(readSysctl('net.ipv4.tcp_max_syn_backlog'));
  checks.push({ name: 'net.ipv4.tcp_max_syn_backlog', current: String(synBacklog), wanted: '>= 2048', ok: synBacklog >= 2048, tuneTo: '4096' });

  const range = (readSysctl('net.ipv4.ip_local_port_range') ?? '0 0').split(' ').map(Number);
  const ports = range[1] - range[0] + 1;
  const perSource = Math.ceil(n / Math.max(1, sourceAddresses));
  checks.push({
    name: 'net.ipv4.ip_local_port_range',
    current: range.join(' '),
    wanted: `>= ${perSource} ports (${n} connections over ${sourceAddresses} source addresses)`,
    ok: ports >= perSource,
    tuneTo: '1024 65535',
  });

  // tcp_mem is in pages. An idle socket charges nothing, but during a broadcast every
  // receiving socket holds at least one page until its client reads it.
  const tcpMem = (readSysctl('net.ipv4.tcp_mem') ?? '0 0 0').split(' ').map(Number);
  const pagesWanted = [n, Math.ceil(n * 1.5), n * 2].map((x) => Math.max(x, 0));
  checks.push({
    name: 'net.ipv4.tcp_mem (pages)',
    current: tcpMem.join(' '),
    wanted: `max >= ${pagesWanted[2]} (a page per receiving socket during a broadcast, both ends)`,
    ok: tcpMem[2] >= pagesWanted[2],
    tuneTo: pagesWanted.map((x, i) => Math.max(x, tcpMem[i] ?? 0)).join(' '),
  });

  const ctMax = readSysctl('net.netfilter.nf_conntrack_max');
  const ctCount = readSysctl('net.netfilter.nf_conntrack_count');
  if (ctMax !== undefined) {
    // Conntrack only matters when something tracks loopback; a count of 0 with TCP in use means nothing does.
    const tracking = num(ctCount) > 0;
    checks.push({
      name: 'net.netfilter.nf_conntrack_max',
      current: `${ctMax} (count ${ctCount})`,
      wanted: tracking ? `>= ${2 * n}` : 'any (no connection is tracked)',
      ok: !tracking || num(ctMax) >= 2 * n,
      tuneTo: tracking ? String(2 * n) : undefined,
    });
  }

  const mem = readMeminfo();
  const kernelBytes = 2 * n * BUDGET.kernelPerSocket;
  const serverBytes = n * BUDGET.serverPerConnection + serverWorkers * BUDGET.serverPerProcess;
  const clientBytes = n * BUDGET.clientPerConnection + clientProcesses * BUDGET.clientPerProcess;
  const totalBytes = kernelBytes + serverBytes + clientBytes;
  const memory: MemoryEstimate = { kernelBytes, serverBytes, clientBytes, totalBytes, memAvailableBytes: mem.MemAvailable ?? 0, fits: totalBytes < (mem.MemAvailable ?? 0) * 0.95 };
  return { connections: n, serverWorkers, clientProcesses, checks, memory, sockstat: readSockstat(), fits: memory.fits && checks.every((c) => c.ok) };
}

export interface SysctlChange { name: string; from: string; to: string }

/** Raises the sysctls that fail their check (never lowers one). Returns what it changed. */
export function applyTuning(p: Preflight): SysctlChange[] {
  const changes: SysctlChange[] = [];
  for (const c of p.checks) {
    if (c.ok || c.tuneTo === undefined) continue;
    const name = c.name.split(' ')[0];
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
    lines.push(`  ${c.ok ? 'ok  ' : 'LOW '} ${c.name} = ${c.current}; needs ${c.wanted}${c.ok || !c.tuneTo ? '' : `  (fix: sysctl -w ${c.name.split(' ')[0]}='${c.tuneTo}', or run with --tune)`}${c.note ? `  [${c.note}]` : ''}`);
  }
  const s = p.sockstat;
  lines.push(`  /proc/net/sockstat: sockets used ${s.socketsUsed}, TCP inuse ${s.tcpInuse}, orphan ${s.tcpOrphan}, tw ${s.tcpTimeWait}, alloc ${s.tcpAlloc}, mem ${s.tcpMemPages} pages`);
  const m = p.memory;
  lines.push(`  memory estimate: kernel ${mb(m.kernelBytes)} + herald ${mb(m.serverBytes)} + client ${mb(m.clientBytes)} = ${mb(m.totalBytes)} vs MemAvailable ${mb(m.memAvailableBytes)}: ${m.fits ? 'fits' : 'DOES NOT FIT'}`);
  return lines.join('\n');
}
