import { sysctlReader, type SysctlReader } from './sysctl-reader';

/**
 * The one table of kernel limits that cap how many connections a box holds,
 * each sized from the target connection count. It feeds the start-up check
 * (checkKernelLimits below), the benchmarks' pre-flight
 * (scripts/bench/lib/kernel-check.ts) and scripts/tune-linux.sh (through
 * scripts/tune-plan.ts). A plan only ever raises: the value to write is never
 * below what the kernel has now, field by field.
 *
 * Left out on purpose: tcp_rmem/tcp_wmem (Linux charges buffer memory only
 * while data is queued, so an idle connection costs the same with any
 * default; lowering them only slows busy sockets), tcp_max_syn_backlog (with
 * SYN cookies on, the default, a listener's half-open queue is capped by its
 * own backlog), netdev_max_backlog (loopback and veth packets are normally
 * processed right after they are sent, a NIC's by NAPI polling), tcp_tw_reuse and vm.overcommit_memory
 * (nothing in herald depends on them).
 */

export interface LimitTarget {
  /** connections this box must hold */
  connections: number;
  /** herald worker processes sharing them */
  workers: number;
  /** the clients (a load test, or a proxy in front of herald) run on this box too: both ends of each connection are here */
  loopback: boolean;
  /** client processes on this box (loopback only) */
  clientProcesses: number;
  /** source addresses the clients on this box dial from (loopback only) */
  sourceAddresses: number;
}

/** Descriptors a process keeps for itself besides connections: Redis, logs, in-flight handshakes. */
export const PROCESS_RESERVE_FILES = 1024;
/** herald's listen backlog: uSockets passes a fixed 512 to listen(). */
export const LISTEN_BACKLOG = 512;
/** Ephemeral ports the widest range (1024-65535) offers per (source, destination) pair. */
const MAX_PORTS = 65535 - 1024 + 1;

interface Need {
  /** what the target needs, for people: ">= 122048" */
  needs: string;
  ok: boolean;
  /** the value to write when not ok; never below the current one */
  next: number[];
}

export interface KernelLimit {
  key: string;
  /** why it matters, printed above the line the tune script writes */
  why: string;
  /** false: irrelevant for this target (e.g. the port range when nothing dials from this box) */
  applies?(t: LimitTarget): boolean;
  need(t: LimitTarget, current: number[], read: SysctlReader): Need;
}

const sockets = (t: LimitTarget): number => t.connections * (t.loopback ? 2 : 1);

/** Every field must be at least `wanted[i]`; the next value raises only the fields below it. */
function floor(wanted: number[], current: number[]): Need {
  const ok = wanted.every((w, i) => (current[i] ?? 0) >= w);
  return { needs: `>= ${wanted.join(' ')}`, ok, next: wanted.map((w, i) => Math.max(w, current[i] ?? 0)) };
}

/** The per-process open-file limit (nofile) a herald worker needs for its share of the target. */
export function nofileNeeded(t: Pick<LimitTarget, 'connections' | 'workers'>): number {
  return Math.ceil(t.connections / Math.max(1, t.workers)) + PROCESS_RESERVE_FILES;
}

export const KERNEL_LIMITS: readonly KernelLimit[] = [
  {
    key: 'fs.file-max',
    why: 'open files on the whole box: a descriptor per connection in herald (and one in its client when both ends are here), each process\'s own, and 100,000 for the rest of the system',
    need: (t, cur) => floor([sockets(t) + (t.workers + 1 + t.clientProcesses) * PROCESS_RESERVE_FILES + 100_000], cur),
  },
  {
    key: 'fs.nr_open',
    why: 'ceiling of any one process\'s open-file limit (nofile, LimitNOFILE): a herald worker holds its share of the connections plus its own descriptors',
    need: (t, cur) => {
      const client = t.loopback && t.clientProcesses > 0 ? Math.ceil(t.connections / t.clientProcesses) + PROCESS_RESERVE_FILES : 0;
      return floor([Math.max(nofileNeeded(t), client)], cur);
    },
  },
  {
    key: 'net.core.somaxconn',
    why: `cap on every listen socket's accept queue: herald's listen sockets ask for ${LISTEN_BACKLOG} and get the smaller of the two (more does not help herald; a client whose SYN finds the queue full retries)`,
    need: (_t, cur) => floor([LISTEN_BACKLOG], cur),
  },
  {
    key: 'net.ipv4.ip_local_port_range',
    why: 'ephemeral ports for connections dialled from this box, one per connection per (source address, destination) pair: only load clients or a proxy on this box need them; herald itself dials only Redis. A port that a server on this box listens on belongs in net.ipv4.ip_local_reserved_ports',
    applies: (t) => t.loopback,
    need: (t, [lo = 0, hi = 0]) => {
      const perSource = Math.ceil(t.connections / Math.max(1, t.sourceAddresses));
      const wanted = Math.min(perSource, MAX_PORTS);
      const ok = hi - lo + 1 >= perSource;
      const short = perSource > MAX_PORTS ? `; more than one range holds: dial from ${Math.ceil(t.connections / MAX_PORTS)} source addresses` : '';
      // Widen upwards first, then downwards (where servers such as herald's 8080 and Redis's 6379 listen); never narrow.
      const newHi = Math.max(hi, Math.min(65535, lo + wanted - 1));
      const newLo = Math.min(lo, Math.max(1024, newHi + 1 - wanted));
      return { needs: `${perSource} ports per source address (${t.connections} connections over ${t.sourceAddresses})${short}`, ok, next: [newLo, newHi] };
    },
  },
  {
    key: 'net.ipv4.tcp_mem',
    why: 'TCP buffer memory of the whole box in 4 KiB pages (low, pressure, max): an idle socket holds none, but during a broadcast each receiving socket holds at least a page until its peer reads it; past max, sends wait in herald',
    need: (t, cur) => floor([t.connections, Math.ceil(t.connections * 1.5), t.connections * 2], cur),
  },
  {
    key: 'net.netfilter.nf_conntrack_max',
    why: 'connections netfilter tracks (only while a firewall rule or NAT tracks them, e.g. a container\'s published port): closed ones keep their entry for minutes, so a full reconnect holds two per client',
    need: (t, cur, read) => {
      const tracked = Number(read('net.netfilter.nf_conntrack_count') ?? 0);
      const need = floor([t.connections * 2], cur);
      return tracked > 0 ? need : { ...need, needs: `${need.needs} once netfilter tracks connections (none now)`, ok: true };
    },
  },
];

/**
 * Kernel settings that cap nothing but that herald relies on: planned by
 * scripts/tune-linux.sh with the limits above (same rules: only raised, the
 * reason printed above the line), but left out of the start-up check and the
 * benchmarks' pre-flight, which are about capacity.
 */
export const KERNEL_SETTINGS: readonly KernelLimit[] = [
  {
    key: 'net.ipv4.tcp_migrate_req',
    why:
      'connections whose TCP handshake is done but which a worker has not accepted yet when it stops listening (a rolling restart replaces it): ' +
      '1 moves them to another worker on the port (SO_REUSEPORT); 0, the default, resets them (the client sees ECONNRESET and must reconnect). Linux 5.14 and later',
    need: (_t, cur) => floor([1], cur),
  },
];

export interface LimitPlan {
  key: string;
  why: string;
  /** as the kernel prints it; undefined: this kernel has no such key */
  current: string | undefined;
  needs: string;
  ok: boolean;
  /** the value to write when not ok (never below current) */
  next?: string;
}

/** Plans every limit of the table that applies to the target and exists on this kernel, in table order. */
export function planKernelLimits(t: LimitTarget, read: SysctlReader = sysctlReader()): LimitPlan[] {
  return plan(KERNEL_LIMITS, t, read);
}

/** What scripts/tune-linux.sh plans: the limits, then the settings (KERNEL_SETTINGS), in table order. */
export function planKernelTuning(t: LimitTarget, read: SysctlReader = sysctlReader()): LimitPlan[] {
  return [...plan(KERNEL_LIMITS, t, read), ...plan(KERNEL_SETTINGS, t, read)];
}

function plan(table: readonly KernelLimit[], t: LimitTarget, read: SysctlReader): LimitPlan[] {
  const plans: LimitPlan[] = [];
  for (const limit of table) {
    if (limit.applies && !limit.applies(t)) continue;
    const current = read(limit.key);
    if (current === undefined) continue; // e.g. no conntrack module loaded: nothing to size
    const need = limit.need(t, current.split(' ').map(Number), read);
    plans.push({ key: limit.key, why: limit.why, current, needs: need.needs, ok: need.ok, next: need.ok ? undefined : need.next.join(' ') });
  }
  return plans;
}

/** A limit that caps the target, with the exact line that lifts it (logged by the primary at start). */
export interface LimitFinding {
  name: string;
  current: string;
  wanted: string;
  fix: string;
}

/** The start-up check: what caps `targetConnections` for herald alone on this box (clients elsewhere). */
export function checkKernelLimits(opts: { targetConnections: number; workers: number; nofileSoft: number; nofileHard: number }, read?: SysctlReader): LimitFinding[] {
  const target: LimitTarget = { connections: opts.targetConnections, workers: opts.workers, loopback: false, clientProcesses: 0, sourceAddresses: 1 };
  const findings: LimitFinding[] = planKernelLimits(target, read)
    .filter((p) => !p.ok)
    .map((p) => ({ name: p.key, current: p.current!, wanted: p.needs, fix: `sysctl -w ${p.key}='${p.next}' (or scripts/tune-linux.sh --connections ${opts.targetConnections})` }));
  const perWorker = nofileNeeded(target);
  if (opts.nofileSoft < perWorker) {
    const moreWorkers = `or raise HERALD_WORKERS to ${Math.ceil(opts.targetConnections / Math.max(1, opts.nofileSoft - PROCESS_RESERVE_FILES))}`;
    const fix =
      opts.nofileHard >= perWorker
        ? `ulimit -n ${perWorker}   # the hard limit allows it; ${moreWorkers}`
        : `LimitNOFILE=${perWorker} in the systemd unit (scripts/herald.service), or '* soft nofile ${perWorker}' and '* hard nofile ${perWorker}' in /etc/security/limits.conf for a login shell; ${moreWorkers}`;
    findings.push({ name: 'nofile (per process)', current: `${opts.nofileSoft}/${opts.nofileHard}`, wanted: `>= ${perWorker}`, fix });
  }
  return findings;
}
