/**
 * A private Redis Cluster for a benchmark: K masters, no replicas (the
 * benchmark measures what each shard does, not failover), built with
 * `redis-cli --cluster create` on free ports. Every redis-server is the
 * leader of its own process group in the benchmark's session (spawnGroup), so
 * every stop path of the run kills it; the config folder goes at stop and at
 * exit.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort, HOST, sleep, spawnGroup, stopGroup } from './process-groups';

const run = promisify(execFile);

export interface RunningCluster {
  /** host:port of every master, in the order started */
  nodes: string[];
  /** redis-server pid per node */
  pids: Map<string, number>;
  stop(): Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10000 > 65535 || taken.has(port)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const probe = new Redis({ host: HOST, port: port + 10000, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      probe.connect().then(() => (probe.disconnect(), resolve(false)), () => resolve(true));
    });
    if (bus) {
      taken.add(port);
      return port;
    }
  }
}

async function ask<T>(node: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const [host, port] = node.split(':');
  const c = new Redis({ host, port: Number(port), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

export async function startRedisCluster(masters: number, maxClients: number): Promise<RunningCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-cluster-'));
  const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const taken = new Set<number>();
  const children: ChildProcess[] = [];
  const nodes: string[] = [];
  const pids = new Map<string, number>();
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopGroup(c, 2000)));
    removeDir();
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      const child = spawnGroup('redis-server', [
        '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxclients', String(maxClients),
        '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir,
      ], { stdio: 'ignore' });
      children.push(child);
      nodes.push(`${HOST}:${port}`);
      pids.set(`${HOST}:${port}`, child.pid!);
    }
    for (const node of nodes) {
      const until = Date.now() + 10_000;
      while ((await ask(node, (c) => c.ping()).catch(() => null)) !== 'PONG') {
        if (Date.now() > until) throw new Error(`redis-server ${node} did not start`);
        await sleep(50);
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    const until = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(nodes.map((n) => ask(n, (c) => c.cluster('INFO') as Promise<string>).catch(() => '')));
      if (states.every((s) => /cluster_state:ok/.test(s) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(s))) break;
      if (Date.now() > until) throw new Error(`the cluster of ${nodes.join(', ')} did not become ok`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, pids, stop };
}

/** INFO of one node, as text. */
export function nodeInfo(node: string, section: string): Promise<string> {
  return ask(node, (c) => c.info(section));
}

/** CONFIG RESETSTAT on one node (command counts start from zero). */
export function resetStats(node: string): Promise<unknown> {
  return ask(node, (c) => c.config('RESETSTAT'));
}
