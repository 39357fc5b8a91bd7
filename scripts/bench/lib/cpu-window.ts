/**
 * CPU spent by groups of processes (and by the whole machine) over a window:
 * start() snapshots, stop() returns the differences in CPU seconds. Tells
 * whether herald, the load client, Redis or the kernel's softirq work took the
 * box's cores during a ramp or a broadcast.
 */
import { readSystemCpu, sumCpuTimes, type SystemCpu } from './proc-stats';

export interface CpuFigures {
  wallSeconds: number;
  /** per group: user and system CPU seconds of its processes */
  groups: Record<string, { user: number; sys: number }>;
  /** the machine: CPU seconds by state (all cores) */
  machine: SystemCpu;
}

const round = (x: number): number => Math.round(x * 100) / 100;

export function cpuWindow(groups: Record<string, number[]>): { stop(): CpuFigures } {
  const t0 = Date.now();
  const g0 = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, sumCpuTimes(pids)]));
  const m0 = readSystemCpu();
  return {
    stop() {
      const m1 = readSystemCpu();
      const out: CpuFigures = { wallSeconds: round((Date.now() - t0) / 1000), groups: {}, machine: { ...m1 } };
      for (const [k, pids] of Object.entries(groups)) {
        const g1 = sumCpuTimes(pids);
        out.groups[k] = { user: round(g1.user - g0[k].user), sys: round(g1.sys - g0[k].sys) };
      }
      for (const key of Object.keys(m1) as (keyof SystemCpu)[]) out.machine[key] = round(m1[key] - m0[key]);
      return out;
    },
  };
}

export function formatCpu(c: CpuFigures): string {
  const g = Object.entries(c.groups).map(([k, v]) => `${k} ${v.user}+${v.sys}`).join(', ');
  const m = c.machine;
  return `${c.wallSeconds} s wall; CPU s user+sys: ${g}; machine user ${m.user}, system ${m.system}, softirq ${m.softirq}, idle ${m.idle}`;
}
