/**
 * `npm run bench:soak`: connection churn at a steady rate for a long time, with Redis
 * restarted once in the middle. By default 1,000,000 connections over 30 minutes
 * (about 556 per second), each connecting, receiving 3 broadcasts and closing, while
 * 1,000 stayers hold on for the whole run and count every broadcast they miss.
 *
 * Before the measured churn, a warm-up churn (20,000 connections by default) brings
 * the workers to their steady state: code compiled, pools and heap sized for the
 * load. It reports each worker's RSS, V8 heap and file descriptors cold (stayers
 * connected, before anything churned), at the start (after the warm-up, settled), the
 * middle (before the Redis restart) and the end (churn over, settled), and fails when
 * memory did not come back to its start within
 * --rss-tolerance-mb per worker, when a descriptor stayed behind, or when a stayer
 * lost a broadcast that Redis accepted. Writes docs/benchmarks/soak-<date>.md and .json.
 *
 * Holds /tmp/herald-bench.lock for the whole run; every process it starts runs in its
 * own process group and is killed on every way out (end, failure, Ctrl-C, hard timeout).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { numberOption, parseCli, parseOrExit, stringOption } from '../lib/cli';
import { runBenchmark } from './lib/bench-run';
import { startHerald, type RunningHerald } from './lib/c1m-procs';
import { machine } from './lib/c1m-report';
import { sleep, startRedis, stopGroup, track, type RunningRedis } from './lib/process-groups';
import { readProcMemory } from './lib/proc-stats';
import type { ChurnCounts, FromClient, SoakClientConfig, ToClient } from './lib/soak-client';
import { markdown, verdict, type Sample, type SoakResult } from './lib/soak-report';
import { fileStamp } from './lib/figures';

interface Args {
  minutes: number;
  total: number;
  warmup: number;
  settleS: number;
  rate: number;
  stayers: number;
  workers: number;
  messages: number;
  broadcastMs: number;
  maxPending: number;
  rssToleranceMb: number;
  sampleSeconds: number;
  timeoutS: number;
  outDir: string;
}

const USAGE = `usage: npm run bench:soak -- [options]
  --minutes M           how long the churn runs (default 30)
  --total N             connections churned in total (default 1000000); the rate is N / (M * 60)
  --rate R              churned connections per second instead (then N = R * M * 60)
  --warmup W            connections churned at the same rate before the start reading, on top of N (default 20000)
  --settle S            seconds of no churn before the start and end readings (default 45: herald's
                        quietCollectSeconds, 30, plus 15)
  --stayers S           connections held for the whole run, checked for lost broadcasts (default 1000)
  --workers W           herald workers (default 2)
  --messages K          broadcasts each churned connection waits for before closing (default 3)
  --broadcast-ms T      one broadcast every T ms (default 1000)
  --max-pending P       handshakes in flight at most (default 500)
  --rss-tolerance-mb X  allowed RSS growth per worker from start to end (default 5)
  --sample-seconds S    memory sample period (default 10)
  --timeout S           hard limit for the whole run (default minutes * 60 + 600)
  --out DIR             output directory (default docs/benchmarks)
Short functional run: npm run bench:soak -- --minutes 2 --total 20000`;

function parseSoakArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    minutes: { type: 'string' }, total: { type: 'string' }, warmup: { type: 'string' }, settle: { type: 'string' }, rate: { type: 'string' }, stayers: { type: 'string' },
    workers: { type: 'string' }, messages: { type: 'string' }, 'broadcast-ms': { type: 'string' }, 'max-pending': { type: 'string' },
    'rss-tolerance-mb': { type: 'string' }, 'sample-seconds': { type: 'string' }, timeout: { type: 'string' }, out: { type: 'string' },
  }, USAGE);
  const positive = { min: 0.001 };
  const count = { min: 1, integer: true };
  const a: Args = {
    minutes: numberOption(v, 'minutes', 30, positive),
    total: numberOption(v, 'total', 1_000_000, count),
    warmup: numberOption(v, 'warmup', 20_000, { min: 0, integer: true }),
    settleS: numberOption(v, 'settle', 45, { min: 0 }),
    rate: numberOption(v, 'rate', 0, positive),
    stayers: numberOption(v, 'stayers', 1000, count),
    workers: numberOption(v, 'workers', 2, count),
    messages: numberOption(v, 'messages', 3, count),
    broadcastMs: numberOption(v, 'broadcast-ms', 1000, positive),
    maxPending: numberOption(v, 'max-pending', 500, count),
    rssToleranceMb: numberOption(v, 'rss-tolerance-mb', 5, positive),
    sampleSeconds: numberOption(v, 'sample-seconds', 10, positive),
    timeoutS: numberOption(v, 'timeout', 0, positive),
    outDir: stringOption(v, 'out', 'docs/benchmarks'),
  };
  if (a.rate > 0) a.total = Math.trunc(a.rate * a.minutes * 60);
  else a.rate = a.total / (a.minutes * 60);
  a.timeoutS ||= Math.ceil(a.minutes * 60 + a.warmup / a.rate + 2 * a.settleS + 600);
  return a;
}

const log = (s: string): void => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}`);
const MB = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;

/** Source addresses in a /16 of 127/8 picked from the clock, so a run does not meet the last run's TIME_WAITs. */
function sourceIps(n: number): string[] {
  const b = 100 + (Math.floor(Date.now() / 60_000) % 150);
  return Array.from({ length: n }, (_, i) => `127.${b}.7.${2 + i}`);
}

function countFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The soak client, forked into its own process group; messages arrive through `on`. */
function startClient(onMessage: (msg: FromClient) => void) {
  const child = fork(path.join(__dirname, 'lib', 'soak-client.js'), [], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  child.on('message', (msg: FromClient) => onMessage(msg));
  return {
    pid: child.pid!,
    send: (msg: ToClient) => child.connected && child.send(msg),
    stop: () => stopGroup(child, 3000),
  };
}

async function sample(herald: RunningHerald, churned: number, t0: number): Promise<Sample> {
  const stats = (await herald.stats()) as { connections: number; perWorker: { pid?: number; stats?: { heapUsedBytes?: number } }[] } | null;
  return {
    t: Math.round((Date.now() - t0) / 1000),
    churned,
    connections: stats?.connections ?? -1,
    workers: herald.workerPids.map((pid) => ({
      pid,
      rssBytes: readProcMemory(pid)?.rssBytes ?? 0,
      heapUsedBytes: stats?.perWorker.find((w) => w.pid === pid)?.stats?.heapUsedBytes ?? 0,
      fds: countFds(pid),
    })),
  };
}

async function waitHealth(herald: RunningHerald, status: number, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const got = await fetch(`${herald.adminUrl}/health`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
    if (got === status) return Date.now() - started;
    await sleep(100);
  }
  return null;
}

interface Running {
  herald?: RunningHerald;
  redis?: RunningRedis;
  client?: ReturnType<typeof startClient>;
  publisher?: Redis;
}

async function run(a: Args, result: SoakResult, procs: Running): Promise<void> {
  let redis = await startRedis(4000);
  procs.redis = redis;
  const redisPort = Number(new URL(redis.url).port);
  log(`redis-server pid ${redis.pid} at ${redis.url}`);
  const herald = await startHerald({ workers: a.workers, redisUrl: redis.url, nodeFlags: [], env: {}, readyTimeoutMs: 60_000 });
  procs.herald = herald;
  result.herald = { workers: a.workers, command: herald.command };
  log(`herald primary ${herald.primaryPid}, workers ${herald.workerPids.join(', ')} at ${herald.url}`);

  // Broadcasts straight to Redis, as a production publisher would; a refused one is not "lost".
  const publisher = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
  publisher.on('error', () => undefined);
  procs.publisher = publisher;
  const accepted: number[] = [];
  /** Set from Redis's return until every worker has resubscribed (health 200, plus a margin). */
  let inWindow = false;
  const windowSeqs: number[] = [];
  let seq = 0;
  let refused = 0;

  // What the client last said, by message type.
  const heard: { ready?: Extract<FromClient, { type: 'stayers-ready' }>; progress?: Extract<FromClient, { type: 'progress' }>; done?: Extract<FromClient, { type: 'done' }> } = {};
  const client = startClient((msg) => {
    if (msg.type === 'stayers-ready') heard.ready = msg;
    else if (msg.type === 'progress') heard.progress = msg;
    else heard.done = msg;
  });
  procs.client = client;
  const config: SoakClientConfig = { url: herald.url, stayers: a.stayers, rate: a.rate, messages: a.messages, maxPending: a.maxPending, sourceIps: sourceIps(16) };
  client.send({ type: 'start', config });
  const until = (what: string, check: () => boolean, ms: number) =>
    (async () => {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        if (herald.died()) throw new Error(herald.died()!);
        await sleep(100);
      }
    })();
  await until('stayers', () => heard.ready !== undefined, 120_000);
  const ready = heard.ready!;
  result.stayers.connected = ready.connected;
  // Broadcasts start once every stayer is connected: a stayer can only be said to lose what was sent after it joined.
  const broadcaster = setInterval(() => {
    const s = ++seq;
    const window = inWindow;
    publisher.publish('herald:broadcast', `soak:${s}`).then(() => (window ? windowSeqs : accepted).push(s), () => refused++);
  }, a.broadcastMs);
  log(`${ready.connected} stayers connected (${ready.failed} failed); settling 10 s`);
  await sleep(10_000);

  const markLine = (s: Sample) => s.workers.map((w) => `worker ${w.pid} RSS ${MB(w.rssBytes)} heap ${MB(w.heapUsedBytes)} fds ${w.fds}`).join('; ');
  const churn = (): ChurnCounts | undefined => heard.progress?.churn;
  const inFlight = () => (churn()?.open ?? 0) + (churn()?.pending ?? 0);
  const churnedAll = () => churn()?.opened ?? 0;
  const settled = async (upTo: number) => {
    await until('the churn', () => churnedAll() >= upTo && inFlight() === 0, (upTo / a.rate) * 2000 + 120_000);
    await sleep(a.settleS * 1000);
  };
  let t0 = Date.now();
  result.marks.cold = await sample(herald, 0, t0);
  log(`cold: ${markLine(result.marks.cold)}`);
  if (a.warmup > 0) {
    log(`warm-up: churning ${a.warmup} connections at ${a.rate.toFixed(1)}/s, then settling ${a.settleS} s`);
    client.send({ type: 'churn', upTo: a.warmup });
    await settled(a.warmup);
  }

  t0 = Date.now();
  result.marks.start = await sample(herald, 0, t0);
  result.series.push(result.marks.start);
  log(`start: ${markLine(result.marks.start)}`);
  client.send({ type: 'churn', upTo: a.warmup + a.total });
  log(`churning ${a.total} connections at ${a.rate.toFixed(1)}/s for ${a.minutes} min`);

  /** churned since the start reading (the warm-up not counted) */
  const churned = () => Math.max(0, churnedAll() - a.warmup);
  let nextSample = Date.now() + a.sampleSeconds * 1000;
  while (churned() < a.total || inFlight() > 0) {
    if (herald.died()) throw new Error(herald.died()!);
    if (!result.redisRestart && churned() >= a.total / 2) {
      result.marks.middle = await sample(herald, churned(), t0);
      result.series.push(result.marks.middle);
      log(`middle: restarting Redis after ${churned()} churned`);
      const downAt = Date.now();
      await redis.stop();
      const unhealthy = await waitHealth(herald, 503, 15_000);
      await sleep(Math.max(0, 3000 - (Date.now() - downAt)));
      inWindow = true;
      redis = await startRedis(4000, redisPort);
      procs.redis = redis;
      const back = Date.now();
      const healthy = await waitHealth(herald, 200, 60_000);
      await sleep(500);
      inWindow = false;
      result.redisRestart = { atChurned: churned(), downMs: back - downAt, healthUnhealthyAfterMs: unhealthy, healthyAgainAfterMs: healthy };
      log(`redis back after ${back - downAt} ms (pid ${redis.pid}); /health 503 after ${unhealthy} ms, 200 again after ${healthy} ms`);
    }
    if (Date.now() >= nextSample) {
      nextSample += a.sampleSeconds * 1000;
      const s = await sample(herald, churned(), t0);
      result.series.push(s);
      const c = churn();
      log(`churned ${s.churned}/${a.total}, completed ${c?.completed ?? 0}, open ${c?.open ?? 0}, pending ${c?.pending ?? 0}, stayers ${heard.progress?.stayersOpen ?? 0}; herald ${s.connections} conns; ${s.workers.map((w) => `RSS ${MB(w.rssBytes)} heap ${MB(w.heapUsedBytes)} fds ${w.fds}`).join(' | ')}`);
    }
    await sleep(200);
  }
  log(`churn over; settling ${a.settleS} s with the stayers still receiving`);
  await sleep(a.settleS * 1000);
  result.marks.end = await sample(herald, churned(), t0);
  result.series.push(result.marks.end);
  clearInterval(broadcaster);
  await sleep(2000 + a.broadcastMs);
  client.send({ type: 'stop', acceptedSeqs: accepted, windowSeqs });
  await until('the client\'s totals', () => heard.done !== undefined, 30_000);
  const d = heard.done!;
  result.churn = d.churn;
  result.stayers.openAtEnd = d.stayersOpen;
  result.stayers.closes = d.stayerCloses;
  result.broadcasts = {
    published: accepted.length + windowSeqs.length, refused, lost: d.lost.total, stayersMissing: d.lost.stayersMissing, lostSeqs: d.lost.seqs,
    inResubscribeWindow: windowSeqs.length, lostInResubscribeWindow: d.lostInWindow.total,
  };
  const problems = verdict(result, a.rssToleranceMb * 1048576, a.total);
  result.ok = problems.length === 0;
  result.failure = problems.length ? problems.join('; ') : null;
}

async function main(): Promise<void> {
  const started = Date.now();
  const a = parseOrExit('bench:soak', () => parseSoakArgs(process.argv.slice(2)));
  const result: SoakResult = {
    command: `npm run bench:soak -- ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), machine: machine(), ok: false, failure: null,
    options: { ...a }, herald: null, stayers: { wanted: a.stayers, connected: 0, openAtEnd: 0, closes: {} }, churn: null,
    broadcasts: { published: 0, refused: 0, lost: 0, stayersMissing: 0, lostSeqs: [], inResubscribeWindow: 0, lostInResubscribeWindow: 0 }, redisRestart: null, marks: { start: null, middle: null, end: null }, series: [], durationMs: 0,
  };
  const procs: Running = {};
  await runBenchmark({
    timeoutS: a.timeoutS,
    log,
    run: () => {
      result.date = new Date().toISOString();
      log(`holding /tmp/herald-bench.lock; ${a.total} connections over ${a.minutes} min, ${a.stayers} stayers, ${a.workers} workers, hard timeout ${a.timeoutS} s`);
      return run(a, result, procs);
    },
    fail: (why) => {
      result.ok = false;
      result.failure = result.failure ? `${result.failure}; ${why}` : why;
    },
    teardown: async () => {
      log('tearing down: client, herald, redis');
      procs.publisher?.disconnect();
      await procs.client?.stop();
      const died = procs.herald?.died();
      if (died) result.failure = `${result.failure ?? ''}; ${died}: ${procs.herald!.stderrTail().slice(-400)}`;
      await procs.herald?.stop(15_000);
      await procs.redis?.stop();
    },
    write: () => {
      result.durationMs = Date.now() - started;
      fs.mkdirSync(a.outDir, { recursive: true });
      const stamp = fileStamp(result.date);
      let base = path.join(a.outDir, `soak-${stamp}`);
      for (let n = 2; fs.existsSync(`${base}.md`); n++) base = path.join(a.outDir, `soak-${stamp}-${n}`);
      fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
      fs.writeFileSync(`${base}.md`, markdown(result));
      log(`wrote ${base}.md and .json`);
    },
  });
  log(result.ok ? 'PASS' : `FAIL: ${result.failure}`);
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
