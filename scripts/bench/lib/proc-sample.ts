/**
 * /proc readers for the comparison harness (bench:compare). Named apart from
 * the C1M benchmark's lib/proc-stats.ts, which is written concurrently.
 *
 * Every reader sums over a set of pids and treats a pid that has gone away as
 * contributing zero: a server that crashed mid-run must not crash the harness,
 * its failure is reported separately.
 */
import fs from 'node:fs';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream build. */
const TICKS_PER_SECOND = 100;

function readOr(file: string, dflt = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return dflt;
  }
}

/** Resident set size in bytes, summed. */
export function sumRssBytes(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readOr(`/proc/${pid}/status`));
    if (m) kb += Number(m[1]);
  }
  return kb * 1024;
}

/**
 * Unique set size in bytes (Private_Clean + Private_Dirty of smaps_rollup),
 * summed: memory only this process maps. Unlike PSS it does not move when other
 * processes (the load client's node processes) map the same binary, so its
 * difference over a ramp is the connections' own cost. One cheap read per pid.
 */
export function sumUssBytes(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    const s = readOr(`/proc/${pid}/smaps_rollup`);
    for (const m of s.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
  }
  return kb * 1024;
}

/** utime + stime in seconds, summed (fields 14 and 15 of /proc/<pid>/stat). */
export function sumCpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readOr(`/proc/${pid}/stat`);
    // The command name (field 2) may contain spaces; fields after ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest.length > 13) ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of a process (needs CONFIG_PROC_CHILDREN, present on stock kernels). */
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

export function cmdline(pid: number): string {
  return readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim();
}
