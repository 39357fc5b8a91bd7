/**
 * The processes the C1M benchmark starts itself: a private redis-server and a
 * herald cluster. Each is spawned as the leader of its own process group in
 * the benchmark's session (spawnGroup, process-groups.ts), and recorded there, so that every stop path (normal end, failure,
 * Ctrl-C/SIGTERM, the hard timeout, process exit) signals exactly those groups
 * and nothing else on the box.
 */
import path from 'node:path';
import { freePort, HOST, sleep, spawnGroup, startRedis as startRedisServer, stderrTail, stopGroup } from './process-groups';

const HERALD_PRIMARY = path.resolve(__dirname, '..', '..', '..', 'workers', 'primary.js');

export { HOST, freePort, killAllGroups, sleep, stopGroup, trackedLeaders, type RunningRedis } from './process-groups';

/** The C1M run's Redis: its herald workers each hold a subscriber, so allow more clients than the default. */
export const startRedis = (port = 0) => startRedisServer(4000, port);

export interface HeraldOptions {
  workers: number;
  /** standalone Redis; leave it out for a cluster or Sentinel (HERALD_REDIS_MODE and HERALD_REDIS_NODES in env) */
  redisUrl?: string;
  /** node flags for the primary; cluster workers inherit them (execArgv) */
  nodeFlags: string[];
  /** extra HERALD_* variables */
  env: Record<string, string>;
  readyTimeoutMs: number;
  /** WebSocket and admin ports; 0 picks a free one */
  port?: number;
  adminPort?: number;
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
  const port = o.port || (await freePort());
  const admin = o.adminPort || (await freePort());
  const env: Record<string, string> = {
    HERALD_WORKERS: String(o.workers),
    HERALD_HOST: HOST,
    HERALD_PORT: String(port),
    HERALD_ADMIN_HOST: HOST,
    HERALD_ADMIN_PORT: String(admin),
    HERALD_BROKER: 'redis',
    ...(o.redisUrl ? { HERALD_REDIS_URL: o.redisUrl } : {}),
    HERALD_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const args = [...o.nodeFlags, HERALD_PRIMARY];
  const child = spawnGroup(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
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
