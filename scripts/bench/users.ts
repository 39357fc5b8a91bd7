/**
 * `npm run bench:users`: the per-user workload, against one Redis and against a
 * Redis Cluster (3 shards by default), side by side in one run.
 *
 * N connections (100,000 by default; several load-client processes past the
 * per-process file limit) each ask for their own topic `user:<i>` besides the
 * shared broadcast. For each Redis setup it measures:
 * - what a connect costs with a private topic, and broadcast only (a fresh
 *   herald for each): connects per second, herald CPU per connect, Redis
 *   commands per connect (INFO commandstats), herald RSS and Redis memory per
 *   connection;
 * - one broadcast to everyone (every connection holds broadcast too);
 * - a publisher process pushing to random users at a fixed rate for 60 s
 *   (PUBLISH, or SPUBLISH through a cluster client): delivered messages per
 *   second, latency p50/p99/max from a stamp taken before publishing, lost
 *   messages (Redis's count of deliveries minus what arrived), messages
 *   delivered to the wrong connection, CPU of herald, of each Redis shard, of
 *   the clients and of the publisher;
 * - with --search: the highest rate with p99 under 100 ms (doubling, then
 *   halving the interval).
 *
 * Holds /tmp/herald-bench.lock for the whole run; every process it starts is
 * stopped on every way out (end, failure, Ctrl-C, SIGTERM, hard timeout). Writes
 * docs/benchmarks/users-<N>-<date>.md and .json, never over an existing file.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { choiceOption, listOption, numberOption, parseCli, parseOrExit, stringOption, UsageError } from '../lib/cli';
import { nowUs } from '../loadtest/client-stats';
import { LoadTest } from '../loadtest/coordinator';
import { summarize } from '../loadtest/result';
import { DEFAULTS, MAX_PER_PROCESS } from '../loadtest/options';
import { runBenchmark } from './lib/bench-run';
import { startHerald, type RunningHerald } from './lib/c1m-procs';
import { machine } from './lib/c1m-report';
import { cpuWindow, type CpuFigures } from './lib/cpu-window';
import { sourceIpsFor } from './lib/compare-scenario';
import { sleep, startRedis } from './lib/process-groups';
import { sumProcMemory } from './lib/proc-stats';
import { nodeInfo, resetStats, startRedisCluster } from './lib/redis-cluster-procs';
import type { FromPublisher, PublishCounts, PublisherConfig, ToPublisher } from './lib/user-publisher';
import { markdown, type ConnectFigures, type RedisSetup, type RunFigures, type SetupResult, type UsersResult } from './lib/users-report';
import { fileStamp } from './lib/figures';

interface Args {
  connections: number;
  rate: number;
  duration: number;
  setups: RedisSetup[];
  shards: number;
  workers: number;
  perProcess: number;
  connectRate: number;
  maxPending: number;
  baseline: boolean;
  search: boolean;
  searchStart: number;
  searchMax: number;
  stepSeconds: number;
  p99LimitMs: number;
  payloadBytes: number;
  timeoutS: number;
  outDir: string;
  lockFile: string | undefined;
}

const USAGE = `usage: npm run bench:users -- [options]
  --connections N      connections, each on its own topic user:<i> (default 100000)
  --rate R             per-user messages per second in the fixed-rate run (default 10000)
  --duration S         seconds of the fixed-rate run (default 60)
  --setups LIST        standalone,cluster (default both, side by side)
  --shards K           masters of the Redis Cluster (default 3)
  --workers W          herald workers (default: the cores, or more so each holds under 15,000)
  --per-process P      connections per load-client process, max ${MAX_PER_PROCESS} (default ${MAX_PER_PROCESS})
  --connect-rate C     connects per second the clients aim at (default 100000: as fast as herald takes them)
  --max-pending P      handshakes in flight at most (default 1000)
  --baseline on|off    also measure connects with broadcast only, on a fresh herald (default on)
  --search             also find the highest rate with p99 under --p99-limit
  --search-start R     first rate of the search (default 2000)
  --search-max R       highest rate tried (default 1000000)
  --step-seconds S     seconds per search step (default 20)
  --p99-limit MS       p99 limit of the search, ms (default 100)
  --payload-bytes B    size of each message (default 100)
  --timeout S          hard limit for the whole run (default: from the options)
  --out DIR            output folder (default docs/benchmarks)
  --lock FILE          another lock than /tmp/herald-bench.lock (small smoke runs only)
Small functional run: npm run bench:users -- --connections 2000 --duration 5 --rate 2000 --baseline off`;

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, setups: { type: 'string' }, shards: { type: 'string' },
    workers: { type: 'string' }, 'per-process': { type: 'string' }, 'connect-rate': { type: 'string' }, 'max-pending': { type: 'string' },
    baseline: { type: 'string' }, search: { type: 'boolean' }, 'search-start': { type: 'string' }, 'search-max': { type: 'string' },
    'step-seconds': { type: 'string' }, 'p99-limit': { type: 'string' }, 'payload-bytes': { type: 'string' }, timeout: { type: 'string' }, out: { type: 'string' }, lock: { type: 'string' },
  }, USAGE);
  const connections = numberOption(v, 'connections', 100_000, { min: 1, integer: true });
  const setups = listOption(v, 'setups', ['standalone', 'cluster']);
  for (const s of setups) if (s !== 'standalone' && s !== 'cluster') throw new UsageError(`--setups takes standalone and cluster, got "${s}"`);
  const a: Args = {
    connections,
    rate: numberOption(v, 'rate', 10_000, { min: 1 }),
    duration: numberOption(v, 'duration', 60, { min: 1 }),
    setups: setups as RedisSetup[],
    shards: numberOption(v, 'shards', 3, { min: 1, max: 16, integer: true }),
    workers: numberOption(v, 'workers', Math.max(os.availableParallelism(), Math.ceil(connections / 15_000)), { min: 1, integer: true }),
    perProcess: numberOption(v, 'per-process', MAX_PER_PROCESS, { min: 1, max: MAX_PER_PROCESS, integer: true }),
    connectRate: numberOption(v, 'connect-rate', 100_000, { min: 1 }),
    maxPending: numberOption(v, 'max-pending', 1000, { min: 1, integer: true }),
    baseline: choiceOption(v, 'baseline', ['on', 'off'], 'on') === 'on',
    search: v.search === true,
    searchStart: numberOption(v, 'search-start', 2000, { min: 1 }),
    searchMax: numberOption(v, 'search-max', 1_000_000, { min: 1 }),
    stepSeconds: numberOption(v, 'step-seconds', 20, { min: 1 }),
    p99LimitMs: numberOption(v, 'p99-limit', 100, { min: 0.001 }),
    payloadBytes: numberOption(v, 'payload-bytes', 100, { min: 40, integer: true }),
    timeoutS: numberOption(v, 'timeout', 0, { min: 0 }),
    outDir: stringOption(v, 'out', 'docs/benchmarks'),
    lockFile: stringOption(v, 'lock', null) ?? undefined,
  };
  // Ramps, two runs and a search of up to 14 steps per setup, with room for starting and stopping.
  a.timeoutS ||= Math.ceil(a.setups.length * (300 + a.connections / 500 + a.duration + (a.search ? 14 * (a.stepSeconds + 10) : 0)));
  return a;
}

const log = (s: string): void => console.log(`[users ${new Date().toISOString().slice(11, 19)}] ${s}`);

let phases = 0;

/**
 * Fresh loopback source addresses for every connect phase (the ports the last phase closed sit in TIME_WAIT for a
 * minute), a few thousand connections each: the kernel's search for a free port on a bound address slows badly as
 * the address fills (20,000 per address ramped 100,000 at 371/s, the client's limit, not herald's).
 */
function sourceIps(connections: number): string[] {
  return sourceIpsFor(connections, (Math.floor(Date.now() / 60_000) % 125) * 2 + phases++);
}

/** What a Redis setup is while it runs. */
interface Redises {
  nodes: string[];
  pids: Map<string, number>;
  /** herald's environment for it */
  env: Record<string, string>;
  redisUrl?: string;
  stop(): Promise<void>;
}

async function startRedises(a: Args, setup: RedisSetup): Promise<Redises> {
  // Each herald worker and the primary hold a connection or two per node, and the load has none: a few hundred are plenty.
  const maxClients = 1000;
  if (setup === 'standalone') {
    const redis = await startRedis(maxClients);
    const node = redis.url.replace('redis://', '');
    return { nodes: [node], pids: new Map([[node, redis.pid]]), env: {}, redisUrl: redis.url, stop: () => redis.stop() };
  }
  const cluster = await startRedisCluster(a.shards, maxClients);
  return { ...cluster, env: { HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: cluster.nodes.join(',') } };
}

const field = (info: string, name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);

/** Over every node: all commands counted since the last RESETSTAT, the (S)SUBSCRIBE ones, and used_memory. */
async function redisCounts(nodes: string[]): Promise<{ commands: number; subscribes: number; memory: number }> {
  const out = { commands: 0, subscribes: 0, memory: 0 };
  for (const node of nodes) {
    const stats = await nodeInfo(node, 'commandstats');
    for (const m of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
      out.commands += Number(m[2]);
      if (m[1] === 'subscribe' || m[1] === 'ssubscribe') out.subscribes += Number(m[2]);
    }
    out.memory += field(await nodeInfo(node, 'memory'), 'used_memory');
  }
  return out;
}

/** Channels of user topics the nodes hold now. */
async function userChannels(r: Redises, setup: RedisSetup): Promise<number> {
  let n = 0;
  for (const node of r.nodes) {
    const [host, port] = node.split(':');
    const c = new Redis({ host, port: Number(port), maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      n += field(await c.info('stats'), setup === 'cluster' ? 'pubsubshard_channels' : 'pubsub_channels');
    } finally {
      c.disconnect();
    }
  }
  return n;
}

class Publisher {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, { resolve: (c: PublishCounts) => void; reject: (e: Error) => void }>();
  private died: Error | null = null;
  private next = 0;
  readonly ready: Promise<void>;

  constructor(config: PublisherConfig) {
    this.child = fork(path.join(__dirname, 'lib', 'user-publisher.js'), [], { env: { ...process.env, HERALD_BENCH_PUBLISHER: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (m: FromPublisher) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'done') {
          this.waiting.get(m.id)?.resolve(m.counts);
          this.waiting.delete(m.id);
        } else this.fail(new Error(`publisher: ${m.error}`), reject);
      });
      this.child.once('exit', (code, signal) => this.fail(new Error(`publisher exited (${signal ?? code})`), reject));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private fail(err: Error, rejectReady: (e: Error) => void): void {
    this.died ??= err;
    rejectReady(err);
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  run(rate: number, seconds: number, users: number, payloadBytes: number): Promise<PublishCounts> {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      if (this.died) return reject(this.died);
      this.waiting.set(id, { resolve, reject });
      this.child.send({ type: 'run', id, rate, seconds, users, payloadBytes } satisfies ToPublisher);
    });
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Everything a setup has running, for teardown on any path. */
interface Running {
  redises?: Redises;
  herald?: RunningHerald;
  clients?: LoadTest;
  publisher?: Publisher;
}

async function stopRunning(p: Running): Promise<void> {
  p.publisher?.stop();
  await p.clients?.stop();
  await p.herald?.stop(15_000);
  await p.redises?.stop();
  p.publisher = p.clients = p.herald = p.redises = undefined;
}

const cores = (cpu: CpuFigures, group: string): number => {
  const g = cpu.groups[group];
  return g ? (g.user + g.sys) / Math.max(0.001, cpu.wallSeconds) : 0;
};

/** Starts herald and connects every client, broadcast only or each on its own user topic, measuring what the connects cost. */
async function connectPhase(a: Args, setup: RedisSetup, r: Redises, p: Running, privateTopic: boolean): Promise<ConnectFigures> {
  p.herald = await startHerald({ workers: a.workers, redisUrl: r.redisUrl, nodeFlags: [], env: r.env, readyTimeoutMs: 60_000 });
  const herald = p.herald;
  await Promise.all(r.nodes.map(resetStats));
  const before = await redisCounts(r.nodes);
  const rss0 = sumProcMemory(herald.workerPids).rssBytes;
  const cpu = cpuWindow({ herald: [herald.primaryPid, ...herald.workerPids] });
  const started = Date.now();
  p.clients = new LoadTest({
    ...DEFAULTS, quiet: true, urls: [herald.url], connections: a.connections, sourceIps: sourceIps(a.connections), rate: a.connectRate,
    maxPending: a.maxPending, perProcess: a.perProcess, topicTemplate: privateTopic ? 'user:{i}' : null,
  });
  await p.clients.start();
  const progress = await p.clients.waitConnected(a.connections, 600_000);
  const connectSeconds = (Date.now() - started) / 1000;
  if (privateTopic) {
    const until = Date.now() + 120_000;
    while ((await userChannels(r, setup)) < progress.connected && Date.now() < until) await sleep(100);
  }
  const subscribedSeconds = (Date.now() - started) / 1000;
  const fig = cpu.stop();
  const after = await redisCounts(r.nodes);
  const n = Math.max(1, progress.connected);
  const heraldCpu = fig.groups.herald.user + fig.groups.herald.sys;
  return {
    privateTopic, connections: a.connections, connected: progress.connected, failed: progress.failed,
    connectSeconds, subscribedSeconds, connectsPerSecond: progress.connected / connectSeconds,
    heraldCpuMicrosPerConnect: (heraldCpu * 1e6) / n,
    redisCommandsPerConnect: after.commands / n,
    subscribeCommandsPerConnect: after.subscribes / n,
    heraldRssBytesPerConnection: (sumProcMemory(herald.workerPids).rssBytes - rss0) / n,
    redisMemoryBytesPerConnection: (after.memory - before.memory) / n,
  };
}

/** One broadcast to every connection, counted. */
async function broadcastCheck(r: Redises, setup: RedisSetup, clients: LoadTest, expected: number): Promise<{ expected: number; received: number }> {
  await clients.snapshot(true);
  const payload = JSON.stringify({ t: nowUs(), seq: 1 });
  if (setup === 'cluster') {
    const c = new Cluster(r.nodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })));
    await c.spublish('herald:broadcast', payload).finally(() => c.disconnect());
  } else {
    const c = new Redis(r.redisUrl!);
    await c.publish('herald:broadcast', payload).finally(() => c.disconnect());
  }
  const until = Date.now() + 30_000;
  let received = 0;
  while (received < expected && Date.now() < until) {
    received = (await clients.snapshot()).messages;
    await sleep(100);
  }
  await clients.snapshot(true);
  return { expected, received };
}

/** Publishes at `rate` for `seconds`, waits for the last deliveries (5 s at most), and reads the window. */
async function runStep(a: Args, r: Redises, p: Running, rate: number, seconds: number): Promise<RunFigures> {
  const clients = p.clients!;
  const herald = p.herald!;
  await clients.snapshot(true);
  const groups: Record<string, number[]> = { herald: [herald.primaryPid, ...herald.workerPids], clients: clients.pids, publisher: [p.publisher!.pid] };
  for (const [node, pid] of r.pids) groups[`redis ${node}`] = [pid];
  const cpu = cpuWindow(groups);
  const counts = await p.publisher!.run(rate, seconds, a.connections, a.payloadBytes);
  const until = Date.now() + 5000;
  while ((await clients.snapshot()).userMessages < counts.owed && Date.now() < until) await sleep(100);
  const fig = cpu.stop();
  const window = await clients.snapshot(true);
  const latency = summarize(window.latency);
  return {
    targetRate: rate, seconds, sent: counts.sent, achievedRate: counts.achievedRate, owed: counts.owed, received: window.userMessages,
    lost: Math.max(0, counts.owed - window.userMessages), misdelivered: window.misdelivered, unroutable: counts.unroutable,
    publishErrors: counts.errors, firstPublishError: counts.firstError,
    deliveredPerSecond: window.userMessages / seconds,
    latencyMs: { count: latency.count, p50: latency.p50, p99: latency.p99, max: latency.max },
    cores: Object.fromEntries(Object.keys(groups).map((g) => [g, cores(fig, g)])),
    cpu: fig,
  };
}

function describeRun(s: RunFigures): string {
  return `${Math.trunc(s.targetRate)}/s target, ${s.achievedRate}/s sent: delivered ${Math.trunc(s.deliveredPerSecond)}/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, max ${s.latencyMs.max} ms, lost ${s.lost}, misdelivered ${s.misdelivered}, herald ${s.cores.herald.toFixed(2)} cores`;
}

/** Doubles the rate while p99 stays under the limit and the publisher keeps the rate, then halves the interval to within 10%. */
async function search(a: Args, r: Redises, p: Running, out: SetupResult): Promise<void> {
  const steps: RunFigures[] = [];
  out.search = { p99LimitMs: a.p99LimitMs, steps, best: null, cappedAt: null };
  let good = 0;
  let bad = Infinity;
  let rate = a.searchStart;
  for (let i = 0; i < 14 && rate <= a.searchMax; i++) {
    const s = await runStep(a, r, p, rate, a.stepSeconds);
    steps.push(s);
    const pass = s.latencyMs.count > 0 && s.latencyMs.p99 < a.p99LimitMs && s.achievedRate >= 0.95 * rate;
    log(`  search step ${i + 1}: ${describeRun(s)} -> ${pass ? 'under' : 'over'} the limit`);
    if (pass) {
      good = rate;
      out.search.best = s;
    } else bad = rate;
    if (bad !== Infinity && (bad - good) / bad < 0.1) break;
    rate = bad === Infinity ? rate * 2 : Math.round((good + bad) / 2);
  }
  if (bad === Infinity) {
    out.search.cappedAt = a.searchMax;
    log(`  p99 stayed under ${a.p99LimitMs} ms up to --search-max ${a.searchMax}/s: raise it to find the limit`);
  }
}

async function runSetup(a: Args, setup: RedisSetup, p: Running, out: SetupResult): Promise<void> {
  p.redises = await startRedises(a, setup);
  const r = p.redises;
  out.redisNodes = r.nodes;
  log(`${setup}: Redis ${r.nodes.join(', ')} (pids ${[...r.pids.values()].join(', ')})`);
  if (a.baseline) {
    out.connect.broadcastOnly = await connectPhase(a, setup, r, p, false);
    log(`${setup}: broadcast only: ${out.connect.broadcastOnly.connected} connected at ${Math.trunc(out.connect.broadcastOnly.connectsPerSecond)}/s`);
    await p.clients!.stop();
    await p.herald!.stop(15_000);
    p.clients = p.herald = undefined;
  }
  out.connect.privateTopic = await connectPhase(a, setup, r, p, true);
  const c = out.connect.privateTopic;
  out.herald = { workers: a.workers, command: p.herald!.command };
  log(`${setup}: private topics: ${c.connected} connected at ${Math.trunc(c.connectsPerSecond)}/s, all subscribed after ${c.subscribedSeconds.toFixed(1)} s; ${c.subscribeCommandsPerConnect.toFixed(3)} (S)SUBSCRIBE per connect`);
  if (c.connected < a.connections) throw new Error(`only ${c.connected} of ${a.connections} connections opened`);
  out.broadcastCheck = await broadcastCheck(r, setup, p.clients!, c.connected);
  log(`${setup}: broadcast reached ${out.broadcastCheck.received} of ${out.broadcastCheck.expected}`);
  p.publisher = new Publisher(setup === 'cluster' ? { clusterNodes: r.nodes, prefix: 'herald:' } : { url: r.redisUrl, prefix: 'herald:' });
  await p.publisher.ready;
  out.run = await runStep(a, r, p, a.rate, a.duration);
  log(`${setup}: ${describeRun(out.run)}`);
  if (a.search) await search(a, r, p, out);
}

async function main(): Promise<void> {
  const started = Date.now();
  const a = parseOrExit('bench:users', () => parseArgs(process.argv.slice(2)));
  const result: UsersResult = {
    command: `npm run bench:users -- ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), machine: machine(),
    ok: false, failure: null, options: { ...a }, setups: [], durationMs: 0,
  };
  const running: Running = {};
  process.on('exit', () => {
    running.clients?.killNow();
    running.publisher?.stop();
  });
  await runBenchmark({
    timeoutS: a.timeoutS,
    lockFile: a.lockFile,
    log,
    run: async () => {
      result.date = new Date().toISOString();
      log(`holding /tmp/herald-bench.lock; ${a.connections} connections on user:<i>, ${a.workers} herald workers, setups ${a.setups.join(', ')}, hard timeout ${a.timeoutS} s`);
      for (const setup of a.setups) {
        const out: SetupResult = { setup, redisNodes: [], herald: null, connect: { broadcastOnly: null, privateTopic: null }, broadcastCheck: null, run: null, search: null, failure: null };
        result.setups.push(out);
        try {
          await runSetup(a, setup, running, out);
        } catch (err) {
          out.failure = (err as Error).message;
          log(`${setup} FAILED: ${out.failure}`);
        } finally {
          await stopRunning(running);
        }
      }
      const failed = result.setups.filter((s) => s.failure);
      result.ok = failed.length === 0 && result.setups.every((s) => s.run && s.run.lost === 0 && s.run.misdelivered === 0);
      if (!result.ok) result.failure = failed.length ? failed.map((s) => `${s.setup}: ${s.failure}`).join('; ') : 'messages lost or misdelivered';
    },
    fail: (why) => {
      result.ok = false;
      result.failure = result.failure ? `${result.failure}; ${why}` : why;
    },
    teardown: () => stopRunning(running),
    write: () => {
      result.durationMs = Date.now() - started;
      fs.mkdirSync(a.outDir, { recursive: true });
      const stamp = fileStamp(result.date);
      let base = path.join(a.outDir, `users-${a.connections}-${stamp}`);
      for (let n = 2; fs.existsSync(`${base}.md`) || fs.existsSync(`${base}.json`); n++) base = path.join(a.outDir, `users-${a.connections}-${stamp}-${n}`);
      fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
      fs.writeFileSync(`${base}.md`, markdown(result));
      log(`wrote ${base}.md and .json`);
    },
  });
  log(result.ok ? 'done' : `FAILED: ${result.failure}`);
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
