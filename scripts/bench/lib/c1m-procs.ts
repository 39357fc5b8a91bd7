/**
 * The processes the C1M benchmark starts itself: a private redis-server and a
 * herald cluster. Each is spawned `detached`, as the leader of its own process
 * group, and recorded here, so that every stop path (normal end, failure,
 * Ctrl-C/SIGTERM, the hard timeout, process exit) signals exactly those groups
 * and nothing else on the box.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import Redis from 'ioredis';

export const HOST = '127.0.0.1';
const HERALD_PRIMARY = path.resolve(__dirname, '..', '..', '..', 'workers', 'primary.js');

const groups = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  groups.add(child);
  child.once('exit', () => groups.delete(child));
  return child;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* group already gone */
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
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    signalGroup(child, 'SIGTERM');
    const t = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
  signalGroup(child, 'SIGKILL');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, HOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function stderrTail(child: ChildProcess, keep = 30): () => string {
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

export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const child = track(
    spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxclients', '4000'], {
      detached: true,
      stdio: 'ignore',
    }),
  );
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

export interface HeraldOptions {
  workers: number;
  redisUrl: string;
  /** node flags for the primary; cluster workers inherit them (execArgv) */
  nodeFlags: string[];
  /** extra HERALD_* variables */
  env: Record<string, string>;
  readyTimeoutMs: number;
}

export interface WorkerInfo { id: number; pid?: number; up: boolean; connections: number; rssBytes?: number }
export interface HeraldStats { healthy: boolean; connections: number; perWorker: WorkerInfo[]; messagesDelivered?: number }

export interface RunningHerald {
  url: string;
  adminUrl: string;
  primaryPid: number;
  workerPids: number[];
  env: Record<string, string>;
  command: string;
  stats(): Promise<HeraldStats | null>;
  /** how the primary died, if it did */
  died(): string | null;
  stderrTail(): string;
  stop(graceMs?: number): Promise<void>;
}

export async function startHerald(o: HeraldOptions): Promise<RunningHerald> {
  const [port, admin] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    HERALD_WORKERS: String(o.workers),
    HERALD_HOST: HOST,
    HERALD_PORT: String(port),
    HERALD_ADMIN_HOST: HOST,
    HERALD_ADMIN_PORT: String(admin),
    HERALD_BROKER: 'redis',
    HERALD_REDIS_URL: o.redisUrl,
    HERALD_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const args = [...o.nodeFlags, HERALD_PRIMARY];
  const child = track(spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }));
  const tail = stderrTail(child);
  let died: string | null = null;
  child.once('exit', (code, signal) => (died = `herald primary exited (${signal ?? `code ${code}`})`));
  const adminUrl = `http://${HOST}:${admin}`;
  const stats = async (): Promise<HeraldStats | null> => {
    try {
      const r = await fetch(`${adminUrl}/stats`, { signal: AbortSignal.timeout(5000) });
      return (await r.json()) as HeraldStats;
    } catch {
      return null;
    }
  };
  const until = Date.now() + o.readyTimeoutMs;
  let workerPids: number[] = [];
  for (;;) {
    const health = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
    const s = health === 200 ? await stats() : null;
    if (s?.healthy && s.perWorker.length === o.workers && s.perWorker.every((w) => w.up && w.pid)) {
      workerPids = s.perWorker.map((w) => w.pid!);
      break;
    }
    if (died || Date.now() > until) {
      await stopGroup(child, 5000);
      throw new Error(`herald not healthy within ${o.readyTimeoutMs / 1000} s (${died ?? 'timeout'}): ${tail().slice(-800)}`);
    }
    await sleep(250);
  }
  const command = `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} node ${args.map((a) => (a === HERALD_PRIMARY ? 'dist/workers/primary.js' : a)).join(' ')}`;
  return {
    url: `ws://${HOST}:${port}/ws`,
    adminUrl,
    primaryPid: child.pid!,
    workerPids,
    env,
    command,
    stats,
    died: () => died,
    stderrTail: tail,
    stop: (graceMs = 20_000) => stopGroup(child, graceMs),
  };
}
