/**
 * Starts and stops the processes a comparison run needs: a private
 * redis-server, and each server under test (herald with either broker, or one
 * of the peers from ../peers/peers.ts).
 *
 * Everything is spawned as the leader of its own process group in the
 * harness's session (spawnGroup, process-groups.ts), so that stopping it is one
 * signal to the group: a herald primary's workers, a cluster's workers and the
 * Netty launcher's JVMs all die with it, even if the leader itself is wedged,
 * while the scheduler treats servers and load clients alike. Every group is
 * also kept in a registry that `killAllGroups()` empties synchronously, for
 * the harness's exit, SIGINT/SIGTERM and timeout paths.
 */
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { PEERS, type PeerProtocol } from '../peers/peers';
import { startHerald as launchHerald } from './c1m-procs';
import { isAlive } from './proc-stats';
import { freePort, HOST, sleep, spawnGroup, startRedis as startRedisServer, stderrTail, stopGroup } from './process-groups';

export { HOST };

/** Server names in the order the table shows them. */
export const SERVER_NAMES = ['herald', 'herald-local', 'uws-bare', 'ws', 'socketio', 'netty'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export { sleep, freePort, type RunningRedis } from './process-groups';

/** A fresh redis-server for one comparison run. */
export const startRedis = () => startRedisServer(1000);

export interface RunningServer {
  name: ServerName;
  protocol: PeerProtocol;
  url: string;
  /** Where the harness publishes: the Redis URL, or herald's admin API for the local broker. */
  publishVia: string;
  /** Processes whose RSS and CPU count as the server. */
  pids: number[];
  processes: number;
  /** Non-null once the server died on its own (how it died). */
  died(): string | null;
  stop(): Promise<void>;
}

function deathWatch(child: ChildProcess): () => string | null {
  let how: string | null = null;
  child.once('exit', (code, signal) => (how = `exited (${signal ?? `code ${code}`})`));
  return () => how;
}

/**
 * Liveness for the servers that have it (herald and bare uWS): idle timeout in
 * seconds with automatic pings, 0 for none. Unset: each as it ships (herald
 * 120 s with pings, the bare uWS peer none, like the ws and Netty peers).
 */
export interface ServerOptions {
  idleTimeoutS?: number;
  /** Node flags for the bare uWS peer's processes (its launcher's, which the processes it forks inherit). */
  nodeFlags?: string[];
}

export async function startServer(name: ServerName, processes: number, redisUrl: string, o: ServerOptions = {}): Promise<RunningServer> {
  return name === 'herald' || name === 'herald-local'
    ? startHerald(name, processes, redisUrl, o)
    : startPeer(name, processes, redisUrl, o);
}

/** Herald through the benchmarks' one herald launcher (c1m-procs.ts), seen as a RunningServer. */
async function startHerald(name: 'herald' | 'herald-local', workers: number, redisUrl: string, o: ServerOptions): Promise<RunningServer> {
  const h = await launchHerald({
    workers,
    redisUrl,
    nodeFlags: [],
    // Starting a Node process costs ~0.3 CPU s: 60 workers on 2 cores need more than 30 s.
    readyTimeoutMs: (30 + workers) * 1000,
    env: {
      HERALD_BROKER: name === 'herald' ? 'redis' : 'local',
      ...(o.idleTimeoutS === undefined ? {} : { HERALD_IDLE_TIMEOUT: String(o.idleTimeoutS), HERALD_SEND_PINGS: String(o.idleTimeoutS > 0) }),
    },
  });
  return {
    name,
    protocol: 'ws',
    url: h.url,
    publishVia: name === 'herald' ? redisUrl : h.adminUrl,
    // The primary relays local-broker publishes and runs the admin API: it is part of the server.
    pids: [h.primaryPid, ...h.workerPids],
    processes: workers,
    died: h.died,
    stop: () => h.stop(),
  };
}

async function startPeer(name: ServerName, processes: number, redisUrl: string, o: ServerOptions): Promise<RunningServer> {
  const spec = PEERS[name];
  if (!spec) throw new Error(`unknown server ${name}`);
  if (o.idleTimeoutS !== undefined && name !== 'uws-bare') throw new Error(`${name}: no liveness setting (only herald and uws-bare have one)`);
  if (o.nodeFlags?.length && name !== 'uws-bare') throw new Error(`${name}: Node flags are passed to uws-bare only`);
  const port = await freePort();
  const liveness = o.idleTimeoutS === undefined ? [] : ['--idle-timeout', String(o.idleTimeoutS)];
  const child = spawnGroup(process.execPath, [...(o.nodeFlags ?? []), spec.launcher, '--port', String(port), '--redis', redisUrl, '--processes', String(processes), '--host', HOST, ...liveness], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = stderrTail(child);
  const died = deathWatch(child);
  // Netty compiles on first use (and may apt-install libnetty-java): allow for it.
  const readyMs = 120_000;
  const pids = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: not ready within ${readyMs / 1000} s`)), readyMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name}: launcher exited (${signal ?? code}) before ready: ${tail().slice(-500)}`));
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; pids?: number[] };
        if (msg.ready && msg.pids) {
          clearTimeout(timer);
          resolve(msg.pids);
        }
      } catch {
        /* not the ready line */
      }
    });
  }).catch(async (err: Error) => {
    await stopGroup(child);
    throw err;
  });
  return {
    name,
    protocol: spec.protocol,
    url: spec.url(HOST, port),
    publishVia: redisUrl,
    pids,
    processes,
    died: () => died() ?? (pids.every(isAlive) ? null : `server process gone: ${pids.filter((p) => !isAlive(p)).join(',')}`),
    stop: () => stopGroup(child),
  };
}
