/**
 * Processes a benchmark starts itself. Each is the leader of its own process
 * group and is recorded here, so every stop path (normal end, failure,
 * Ctrl-C/SIGTERM, the hard timeout, process exit) signals exactly those
 * groups: a herald primary's workers, a cluster's workers and the Netty
 * launcher's JVMs die with their leader, and nothing else on the box is
 * touched.
 *
 * Each stays in the benchmark's session (setpgid, not setsid as Node's
 * `detached` does). With sched_autogroup_enabled=1 the scheduler gives every
 * session one CPU share: a server in a session of its own would get one share
 * against all the load-client processes in ours (issue 12 measured herald 1.9x
 * slower than bare uWS at 100k from that difference alone). Servers and
 * clients started here all compete as plain processes of one session.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import readline from 'node:readline';
import Redis from 'ioredis';
import { freePort, sleep } from '../../harness/ports';

export const HOST = '127.0.0.1';

const groups = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  groups.add(child);
  child.once('exit', () => groups.delete(child));
  return child;
}

/**
 * Node offers only setsid (`detached`); perl (essential on Debian) calls
 * setpgid and then execs the command, so the pid Node returns is the command's
 * and the leader of its group.
 */
const SETPGID_EXEC = 'setpgrp(0, 0) or die "setpgid: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n"';

/** Spawns `command` as the leader of a new process group in this session, and tracks it. */
export function spawnGroup(command: string, args: string[], options: Omit<SpawnOptions, 'detached'>): ChildProcess {
  return track(spawn('perl', ['-e', SETPGID_EXEC, command, ...args], options));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // No group (yet): perl may not have called setpgid at this instant.
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Synchronous last resort: SIGKILL every process group this benchmark started. */
export function killAllGroups(): void {
  for (const c of groups) signalGroup(c, 'SIGKILL');
}

/** Pids of the group leaders still running (for the final check). */
export function trackedLeaders(): number[] {
  return [...groups].map((c) => c.pid!).filter(Boolean);
}

/** SIGTERM the group, SIGKILL it after graceMs, wait for the leader, then sweep the group. */
export async function stopGroup(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    signalGroup(child, 'SIGTERM');
    const t = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
  // The leader may exit before its children: make sure the group is empty.
  signalGroup(child, 'SIGKILL');
}

export { freePort, sleep };

/** The last `keep` lines a child wrote to stderr, for failure reports. */
export function stderrTail(child: ChildProcess, keep = 30): () => string {
  const lines: string[] = [];
  if (child.stderr) {
    readline.createInterface({ input: child.stderr }).on('line', (l) => {
      lines.push(l);
      if (lines.length > keep) lines.shift();
    });
  }
  return () => lines.join('\n');
}

export interface RunningRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A fresh redis-server on `port` (0: a free one; a given port restarts one in place), with no persistence. */
export async function startRedis(maxClients: number, port = 0): Promise<RunningRedis> {
  port ||= await freePort();
  const child = spawnGroup('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxclients', String(maxClients)], {
    stdio: 'ignore',
  });
  const url = `redis://${HOST}:${port}`;
  const until = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const ok = await probe.connect().then(() => probe.ping(), () => null);
    probe.disconnect();
    if (ok === 'PONG') break;
    if (Date.now() > until || child.exitCode !== null) {
      await stopGroup(child, 1000);
      throw new Error(`redis-server on port ${port} did not start`);
    }
    await sleep(50);
  }
  return { url, pid: child.pid!, stop: () => stopGroup(child, 2000) };
}
