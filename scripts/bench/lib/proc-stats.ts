/**
 * /proc readers for the benchmarks: process memory (RSS, PSS, USS), system
 * memory (/proc/meminfo), socket counts and TCP memory (/proc/net/sockstat),
 * sysctls and process trees. Linux only; no dependencies.
 *
 * A pid that has gone away contributes zero: a process that died mid-run must
 * not crash the benchmark, its death is reported separately.
 */
import fs from 'node:fs';

export const PAGE_BYTES = 4096;

function readOr(file: string, dflt = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return dflt;
  }
}

/** Memory of one process or a sum over several, in bytes. */
export interface ProcMemory {
  processes: number;
  /** VmRSS from /proc/<pid>/status (shared pages counted in every process) */
  rssBytes: number;
  /** Pss from /proc/<pid>/smaps_rollup: shared pages divided among their sharers */
  pssBytes: number;
  /** Private_Clean + Private_Dirty: pages only this process maps */
  ussBytes: number;
}

export function readProcMemory(pid: number): ProcMemory | null {
  const status = readOr(`/proc/${pid}/status`);
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!rss) return null;
  const roll = readOr(`/proc/${pid}/smaps_rollup`);
  const pss = /^Pss:\s+(\d+) kB/m.exec(roll);
  let uss = 0;
  for (const m of roll.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) uss += Number(m[1]);
  return { processes: 1, rssBytes: Number(rss[1]) * 1024, pssBytes: pss ? Number(pss[1]) * 1024 : 0, ussBytes: uss * 1024 };
}

/** Sums RSS/PSS/USS over pids; `processes` counts the pids that were alive. */
export function sumProcMemory(pids: number[]): ProcMemory {
  const total: ProcMemory = { processes: 0, rssBytes: 0, pssBytes: 0, ussBytes: 0 };
  for (const pid of pids) {
    const m = readProcMemory(pid);
    if (!m) continue;
    total.processes++;
    total.rssBytes += m.rssBytes;
    total.pssBytes += m.pssBytes;
    total.ussBytes += m.ussBytes;
  }
  return total;
}

/** /proc/meminfo, values in bytes (keys as the file names them: MemAvailable, Slab, SUnreclaim...). */
export function readMeminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readOr('/proc/meminfo').matchAll(/^(\S+):\s+(\d+)(?: kB)?$/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

export interface Sockstat {
  socketsUsed: number;
  tcpInuse: number;
  tcpOrphan: number;
  tcpTimeWait: number;
  tcpAlloc: number;
  /** pages charged to TCP socket buffers (the unit of net.ipv4.tcp_mem) */
  tcpMemPages: number;
}

export function readSockstat(): Sockstat {
  const s = readOr('/proc/net/sockstat');
  const num = (re: RegExp): number => Number(re.exec(s)?.[1] ?? 0);
  return {
    socketsUsed: num(/sockets: used (\d+)/),
    tcpInuse: num(/TCP: inuse (\d+)/),
    tcpOrphan: num(/TCP:.* orphan (\d+)/),
    tcpTimeWait: num(/TCP:.* tw (\d+)/),
    tcpAlloc: num(/TCP:.* alloc (\d+)/),
    tcpMemPages: num(/TCP:.* mem (\d+)/),
  };
}

/** A sysctl's value as the kernel prints it (tabs collapsed to spaces), or undefined. */
export function readSysctl(name: string): string | undefined {
  const v = readOr(`/proc/sys/${name.replace(/\./g, '/')}`, '\0');
  return v === '\0' ? undefined : v.trim().replace(/\s+/g, ' ');
}

/** The soft and hard open-file limits of a process (this one by default). */
export function readNofile(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readOr(`/proc/${pid}/limits`));
  const n = (x: string | undefined): number => (x === undefined ? 0 : x === 'unlimited' ? Infinity : Number(x));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of a process (from /proc/<pid>/task/<tid>/children). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    for (const c of readOr(`/proc/${pid}/task/${tid}/children`).split(' ')) if (c.trim()) out.push(Number(c));
  }
  return out;
}

/** A process and all its descendants. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childPids(out[i]));
  return out.filter(isAlive);
}

export function cmdline(pid: number): string {
  return readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim();
}

/** utime + stime in seconds, summed over pids. */
export function sumCpuSeconds(pids: number[]): number {
  const { user, sys } = sumCpuTimes(pids);
  return user + sys;
}

/** user and system CPU seconds (USER_HZ = 100), summed over pids. */
export function sumCpuTimes(pids: number[]): { user: number; sys: number } {
  let u = 0, s = 0;
  for (const pid of pids) {
    const stat = readOr(`/proc/${pid}/stat`);
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest.length > 13) { u += Number(rest[11]); s += Number(rest[12]); }
  }
  return { user: u / 100, sys: s / 100 };
}

/** The whole machine's CPU seconds by state, from the first line of /proc/stat. */
export interface SystemCpu { user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softirq: number; steal: number }

export function readSystemCpu(): SystemCpu {
  const f = readOr('/proc/stat').split('\n')[0].split(/\s+/).slice(1).map((x) => Number(x) / 100);
  return { user: f[0] ?? 0, nice: f[1] ?? 0, system: f[2] ?? 0, idle: f[3] ?? 0, iowait: f[4] ?? 0, irq: f[5] ?? 0, softirq: f[6] ?? 0, steal: f[7] ?? 0 };
}
