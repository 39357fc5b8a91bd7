/**
 * `npm run bench:c1m -- --connections N`: the article's C1M experiment on this
 * box. Checks kernel limits, starts its own redis-server and herald, ramps N
 * loopback connections from many source addresses, measures memory, pushes
 * broadcasts of the server time through Redis, tears everything down, and
 * writes docs/benchmarks/c1m-<N>-<date>.json and .md: new files every run,
 * never the tracked ones (the README's tables are updated by hand).
 *
 * Servers and load clients start in this process's session (see
 * lib/process-groups.ts); the results record the scheduling conditions.
 * Holds /tmp/herald-bench.lock for the whole run (shared with bench:compare).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LoadTest, sleep } from '../loadtest/coordinator';
import { DEFAULTS, MAX_PER_PROCESS, type LoadOptions } from '../loadtest/options';
import { choiceOption, numberOption, parseCli, parseOrExit, stringOption } from '../lib/cli';
import { acquireBenchLock, type HeldLock } from './lib/bench-lock';
import { killAllGroups, startHerald, startRedis, type RunningHerald, type RunningRedis } from './lib/c1m-procs';
import { machine, markdown, type C1mResult, type SystemSample } from './lib/c1m-report';
import { cpuWindow, formatCpu } from './lib/cpu-window';
import { applyTuning, formatPreflight, preflight } from './lib/kernel-check';
import { childPids, cmdline, readMeminfo, readProcMemory, readSockstat, sumProcMemory, type ProcMemory } from './lib/proc-stats';
import { AUTOGROUP_MODES, applyScheduling, formatScheduling, type AutogroupMode } from './lib/scheduling';
import { fileStamp } from './lib/figures';

interface Args {
  connections: number;
  rate: number;
  maxPending: number;
  perSource: number;
  perWorker: number;
  workers: number;
  broadcasts: number;
  interval: number;
  tune: boolean;
  force: boolean;
  timeoutS: number;
  idleTimeout: number;
  /** HERALD_WORKER_NODE_OPTIONS for the run; empty = herald's default */
  workerNodeOptions: string;
  outDir: string;
  /** herald's WebSocket and admin ports and Redis's; 0 = a free port */
  port: number;
  adminPort: number;
  redisPort: number;
  autogroup: AutogroupMode;
}

const USAGE = `usage: npm run bench:c1m -- [options]

The C1M experiment on this box: checks kernel limits, starts its own redis-server
and herald, ramps N loopback connections with the project's load client, measures
memory, publishes broadcasts of the server time through Redis, stops everything
and writes <out-dir>/c1m-<N>-<date>.{json,md}. Build first: npm run build.

  -c, --connections N      connections to hold (default 20000)
  --rate R                 new connections per second (default 8000)
  --max-pending P          handshakes in flight, total (default 2000)
  --per-source K           connections per loopback source address (default 2000)
  --per-worker K           connections planned per herald worker (default 17000; workers = ceil(N/K)+1)
  --workers W              herald workers (overrides --per-worker)
  --broadcasts B           broadcasts to publish through Redis (default 3, at least 3)
  --interval S             seconds between broadcasts after one is complete (default 2)
  --idle-timeout S         herald idle timeout for the run (default 0 = off, so no ping traffic)
  --worker-node-options F  V8 flags for herald's workers (HERALD_WORKER_NODE_OPTIONS; default: herald's own)
  --port P                 herald's WebSocket port (default: a free port)
  --admin-port P           herald's admin port (default: a free port)
  --redis-port P           the run's own redis-server's port (default: a free port)
  --autogroup MODE         keep: leave /proc/sys/kernel/sched_autogroup_enabled alone; off: 0 for the
                           run, restored after (default keep). Herald and the load client run in this
                           process's session either way, so they compete as plain processes.
  --tune                   raise kernel sysctls that are too low (prints each change)
  --force                  run even when the pre-flight says N does not fit
  --timeout S              hard limit for the whole run (default 240 + N/1000 s)
  --out DIR                output directory (default docs/benchmarks)
  -h, --help               this text`;

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string', short: 'c' }, rate: { type: 'string' }, 'max-pending': { type: 'string' }, 'per-source': { type: 'string' },
    'per-worker': { type: 'string' }, workers: { type: 'string' }, broadcasts: { type: 'string' }, interval: { type: 'string' },
    'idle-timeout': { type: 'string' }, 'worker-node-options': { type: 'string' }, port: { type: 'string' }, 'admin-port': { type: 'string' },
    'redis-port': { type: 'string' }, autogroup: { type: 'string' }, tune: { type: 'boolean' }, force: { type: 'boolean' },
    timeout: { type: 'string' }, out: { type: 'string' },
  }, USAGE);
  const port = (name: string): number => numberOption(v, name, 0, { min: 1, max: 65535, integer: true });
  const a: Args = {
    connections: numberOption(v, 'connections', 20_000, { min: 1, integer: true }),
    rate: numberOption(v, 'rate', 8000, { min: 1 }),
    maxPending: numberOption(v, 'max-pending', 2000, { min: 1, integer: true }),
    perSource: numberOption(v, 'per-source', 2000, { min: 1, integer: true }),
    perWorker: numberOption(v, 'per-worker', 17_000, { min: 1, integer: true }),
    workers: numberOption(v, 'workers', 0, { min: 1, integer: true }),
    broadcasts: numberOption(v, 'broadcasts', 3, { min: 3, integer: true }),
    interval: numberOption(v, 'interval', 2),
    tune: v.tune === true,
    force: v.force === true,
    timeoutS: numberOption(v, 'timeout', 0, { min: 1 }),
    idleTimeout: numberOption(v, 'idle-timeout', 0),
    workerNodeOptions: stringOption(v, 'worker-node-options', ''),
    outDir: stringOption(v, 'out', 'docs/benchmarks'),
    port: port('port'),
    adminPort: port('admin-port'),
    redisPort: port('redis-port'),
    autogroup: choiceOption(v, 'autogroup', AUTOGROUP_MODES, 'keep'),
  };
  if (!a.timeoutS) a.timeoutS = Math.ceil(240 + a.connections / 1000);
  if (!a.workers) a.workers = Math.ceil(a.connections / a.perWorker) + 1;
  return a;
}

/**
 * Source addresses: perSource connections each, in a /16 of 127/8 picked from the
 * clock, so a run does not reuse the previous run's addresses while their closed
 * connections still sit in TIME_WAIT (that makes the kernel's port search slow).
 */
function sourceIps(n: number, perSource: number): string[] {
  const k = Math.ceil(n / perSource);
  if (k > 250 * 250) throw new Error('too many source addresses');
  const b = 100 + (Math.floor(Date.now() / 60_000) % 150);
  return Array.from({ length: k }, (_, i) => `127.${b}.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`);
}

function systemSample(): SystemSample {
  const m = readMeminfo();
  return { memAvailableBytes: m.MemAvailable ?? 0, slabBytes: m.Slab ?? 0, sUnreclaimBytes: m.SUnreclaim ?? 0, sockstat: readSockstat() };
}

const log = (s: string): void => console.log(`[c1m ${new Date().toISOString().slice(11, 19)}] ${s}`);
const MB = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
const perConn = (after: number, before: number, n: number): number => (n ? Math.trunc((after - before) / n) : 0);

async function run(a: Args, result: C1mResult, onHerald: (h: RunningHerald) => void, onRedis: (r: RunningRedis) => void, onLoad: (l: LoadTest) => void): Promise<void> {
  const n = a.connections;
  const clientProcesses = Math.ceil(n / MAX_PER_PROCESS);
  const ips = sourceIps(n, a.perSource);
  const pf = preflight(n, a.workers, clientProcesses, ips.length);
  result.preflight = pf;
  console.log(formatPreflight(pf));
  if (a.tune && !pf.fits) {
    result.sysctlChanges = applyTuning(pf);
    for (const c of result.sysctlChanges) log(`CHANGED sysctl ${c.name}: ${c.from} -> ${c.to}`);
  }
  if (!pf.fits && !a.force) throw new Error('pre-flight: N does not fit (see LOW lines; --tune raises sysctls, --force runs anyway)');

  const redis = await startRedis(a.redisPort);
  onRedis(redis);
  log(`redis-server pid ${redis.pid} at ${redis.url}`);
  const herald = await startHerald({
    workers: a.workers, redisUrl: redis.url, nodeFlags: [], readyTimeoutMs: 60_000 + a.workers * 2000, port: a.port, adminPort: a.adminPort,
    env: {
      HERALD_IDLE_TIMEOUT: String(a.idleTimeout), HERALD_SEND_PINGS: a.idleTimeout ? 'true' : 'false', HERALD_TARGET_CONNECTIONS: String(n),
      ...(a.workerNodeOptions ? { HERALD_WORKER_NODE_OPTIONS: a.workerNodeOptions } : {}),
    },
  });
  onHerald(herald);
  result.herald = { workers: a.workers, command: herald.command, env: herald.env };
  log(`herald primary pid ${herald.primaryPid}, ${herald.workerPids.length} workers healthy at ${herald.url}`);

  await sleep(3000); // let start-up garbage settle
  const serverBefore = sumProcMemory(herald.workerPids);
  const idle = herald.workerPids.map(readProcMemory).filter((m): m is ProcMemory => m !== null);
  const med = (f: (m: ProcMemory) => number): number => idle.map(f).sort((x, y) => x - y)[Math.floor(idle.length / 2)] ?? 0;
  const kernelBefore = systemSample();
  log(`herald workers idle: RSS ${MB(serverBefore.rssBytes)}, PSS ${MB(serverBefore.pssBytes)}, USS ${MB(serverBefore.ussBytes)} (one worker: RSS ${MB(med((m) => m.rssBytes))}, PSS ${MB(med((m) => m.pssBytes))})`);

  const opts: LoadOptions = {
    ...DEFAULTS, urls: [herald.url], connections: n, sourceIps: ips, rate: a.rate, maxPending: a.maxPending,
    perProcess: MAX_PER_PROCESS, connectTimeoutMs: 20_000, retries: 8, publishVia: redis.url, publishCount: a.broadcasts, quiet: true,
  };
  const lt = new LoadTest(opts);
  onLoad(lt);
  const rampStart = Date.now();
  const rampCpu = cpuWindow({ herald: [herald.primaryPid, ...herald.workerPids], redis: [redis.pid], coordinator: [process.pid] });
  await lt.start();
  const ours = new Set([herald.primaryPid, redis.pid]);
  const clientPids = childPids(process.pid).filter((p) => !ours.has(p) && cmdline(p).includes('load-worker'));
  const clientBefore = sumProcMemory(clientPids);
  result.clientMemory = { processes: clientPids.length, before: clientBefore, after: null, bytesPerConnection: null, heapBytesPerConnection: null, baselineRssPerProcess: null };
  result.kernel = { before: kernelBefore, after: null, slabPerConnection: null, sUnreclaimPerConnection: null, tcpMemPagesAfter: null };
  result.serverMemory = { before: serverBefore, after: serverBefore, primary: null, perConnection: null, idleWorker: { rss: med((m) => m.rssBytes), pss: med((m) => m.pssBytes), uss: med((m) => m.ussBytes) } };
  log(`${clientPids.length} client processes, ${ips.length} source addresses (${ips[0]} ...), ramping ${n} at ${a.rate}/s, ${a.maxPending} pending max`);

  const progress = setInterval(() => {
    const p = lt.progress();
    log(`connected ${p.connected}/${n}, pending ${p.pending}, failed ${p.failed}, errors ${p.errors}, ${Math.round(p.rate)}/s, MemAvailable ${MB(readMeminfo().MemAvailable ?? 0)}`);
  }, 5000);
  let p;
  try {
    p = await lt.waitConnected(n, Math.max(120_000, (n / a.rate) * 1000 * 4));
  } finally {
    clearInterval(progress);
  }
  result.connections.rampMs = Date.now() - rampStart;
  const groups = { herald: [herald.primaryPid, ...herald.workerPids], client: clientPids, redis: [redis.pid], coordinator: [process.pid] };
  result.cpu = { ramp: rampCpu.stop(), broadcasts: [] };
  log(`ramp CPU: ${formatCpu(result.cpu.ramp)} (client processes started inside the window: their CPU is in machine totals only)`);
  log(`ramp done: connected ${p.connected}/${n}, failed ${p.failed}, errors ${p.errors} in ${((Date.now() - rampStart) / 1000).toFixed(1)} s`);
  if (herald.died()) throw new Error(herald.died()!);

  await sleep(2000);
  const cm = await lt.measureMemory();
  const serverAfter = sumProcMemory(herald.workerPids);
  const primary = readProcMemory(herald.primaryPid);
  const clientAfter = sumProcMemory(clientPids);
  const kernelAfter = systemSample();
  const hs = await herald.stats();
  const held = p.connected;
  result.connections.heraldCounted = hs?.connections ?? null;
  result.serverMemory = {
    ...result.serverMemory, after: serverAfter, primary,
    perConnection: { rss: perConn(serverAfter.rssBytes, serverBefore.rssBytes, held), pss: perConn(serverAfter.pssBytes, serverBefore.pssBytes, held), uss: perConn(serverAfter.ussBytes, serverBefore.ussBytes, held) },
  };
  result.clientMemory = { ...result.clientMemory, after: clientAfter, bytesPerConnection: cm.bytesPerConnection, heapBytesPerConnection: cm.heapBytesPerConnection, baselineRssPerProcess: cm.baselineRssPerProcess };
  result.kernel = {
    before: kernelBefore, after: kernelAfter, tcpMemPagesAfter: kernelAfter.sockstat.tcpMemPages,
    slabPerConnection: perConn(kernelAfter.slabBytes, kernelBefore.slabBytes, held), sUnreclaimPerConnection: perConn(kernelAfter.sUnreclaimBytes, kernelBefore.sUnreclaimBytes, held),
  };
  log(`held ${held} (herald counts ${hs?.connections ?? '?'}); herald workers RSS ${MB(serverAfter.rssBytes)} PSS ${MB(serverAfter.pssBytes)} (+${result.serverMemory.perConnection!.rss} B/conn RSS, +${result.serverMemory.perConnection!.pss} B/conn PSS); client RSS ${MB(clientAfter.rssBytes)} (${cm.bytesPerConnection} B/conn); Slab +${result.kernel.slabPerConnection} B/conn; TCP mem ${kernelAfter.sockstat.tcpMemPages} pages`);

  for (let i = 1; i <= a.broadcasts; i++) {
    const before = lt.progress().messages;
    const win = cpuWindow(groups);
    const pub = await lt.publish(i);
    const until = Date.now() + 60_000 + held / 10;
    while (lt.progress().messages - before < held && Date.now() < until) await sleep(100);
    const got = lt.progress().messages - before;
    const cpu = win.stop();
    result.cpu.broadcasts.push(cpu);
    log(`broadcast ${i} CPU: ${formatCpu(cpu)}`);
    log(`broadcast ${i}: redis receivers ${pub.receivers}, copies seen ${got}/${held} after ${((Date.now() - pub.t / 1000) / 1000).toFixed(2)} s (progress sampled every 200 ms)`);
    await sleep(a.interval * 1000);
  }
  await sleep(1000);
  const r = await lt.collect();
  result.connections.connected = r.connections.connected;
  result.connections.failed = r.connections.failed;
  result.connections.errors = r.errors;
  result.connections.timeToConnectAllMs = r.connections.timeToConnectAllMs;
  result.broadcasts = r.broadcasts.map((b) => ({ seq: b.seq, received: b.received, missing: b.missing, completionMs: b.completionMs, firstMs: b.firstMs }));
  result.latencyMs = { ...r.latencyMs };
  result.messages = { received: r.messages.received, lost: r.messages.lost, duplicates: r.messages.duplicates };
  const errorCount = Object.values(r.errors).reduce((x, y) => x + y, 0);
  const problems: string[] = [];
  if (r.connections.connected < n) problems.push(`held ${r.connections.connected} of ${n}`);
  if (errorCount) problems.push(`${errorCount} connection errors`);
  if (r.messages.lost) problems.push(`${r.messages.lost} messages lost`);
  if (result.broadcasts.some((b) => b.missing > 0)) problems.push('a broadcast missed connections');
  if (herald.died()) problems.push(herald.died()!);
  result.ok = problems.length === 0;
  result.failure = problems.length ? problems.join('; ') : null;
}

async function main(): Promise<void> {
  const started = Date.now();
  const a = parseOrExit('bench:c1m', () => parseArgs(process.argv.slice(2)));
  const result: C1mResult = {
    command: `npm run bench:c1m -- ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), machine: machine(),
    ok: false, failure: null, options: { ...a }, preflight: undefined as never, sysctlChanges: [], scheduling: null, herald: null,
    connections: { target: a.connections, connected: 0, heraldCounted: null, failed: 0, errors: {}, timeToConnectAllMs: null, rampMs: null },
    serverMemory: null, clientMemory: null, kernel: null, cpu: null, broadcasts: [], latencyMs: null, messages: null, durationMs: 0,
  };
  let lock: HeldLock | null = null;
  let herald: RunningHerald | null = null;
  let redis: RunningRedis | null = null;
  let lt: LoadTest | null = null;
  let finished = false;

  const hardKill = (): void => {
    lt?.killNow();
    killAllGroups();
    // A `flock` still waiting for the bench lock is our child too: it must not take the lock after us.
    for (const pid of childPids(process.pid)) {
      if (cmdline(pid).startsWith('flock ')) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
  };
  process.on('exit', hardKill);
  const write = (): void => {
    if (!result.preflight) return;
    result.durationMs = Date.now() - started;
    fs.mkdirSync(a.outDir, { recursive: true });
    // New files named by N and date: a run never overwrites a tracked result.
    const stamp = fileStamp(result.date);
    const base = path.join(a.outDir, `c1m-${a.connections}-${stamp}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown(result));
    log(`wrote ${base}.json and ${base}.md`);
  };
  const abort = (why: string, code: number): void => {
    if (finished) return;
    finished = true;
    log(`ABORT: ${why}; killing everything this run started`);
    result.failure = why;
    result.ok = false;
    hardKill();
    try {
      write();
    } catch (e) {
      log(`could not write results: ${(e as Error).message}`);
    }
    lock?.release();
    process.exit(code);
  };
  process.on('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  let hard: NodeJS.Timeout | undefined;

  try {
    lock = await acquireBenchLock(undefined, log);
    // The hard limit runs from when the lock is ours: waiting for another benchmark is not this run's time.
    hard = setTimeout(() => abort(`hard timeout of ${a.timeoutS} s reached`, 124), a.timeoutS * 1000);
    hard.unref();
    result.date = new Date().toISOString();
    log(`holding /tmp/herald-bench.lock; N=${a.connections}, herald workers ${a.workers}, hard timeout ${a.timeoutS} s`);
    result.scheduling = applyScheduling(a.autogroup, log);
    log(formatScheduling(result.scheduling));
    lt = null;
    await run(a, result, (h) => (herald = h), (r) => (redis = r), (l) => {
      lt = l;
      l.on('failure', (e: Error) => log(`load client failure: ${e.message}`));
    });
  } catch (e) {
    result.ok = false;
    result.failure = `${result.failure ? `${result.failure}; ` : ''}${(e as Error).message}`;
    log(`FAILED: ${(e as Error).message}`);
  } finally {
    if (!finished) {
      log('tearing down: clients, herald, redis');
      const l = lt as LoadTest | null;
      if (l) await l.stop().catch(() => l.killNow());
      const h = herald as RunningHerald | null;
      if (h) {
        if (h.died()) result.failure = `${result.failure ?? ''}; ${h.died()}: ${h.stderrTail().slice(-400)}`;
        await h.stop(15_000);
      }
      const r = redis as RunningRedis | null;
      if (r) await r.stop();
      write();
      lock?.release();
      finished = true;
      clearTimeout(hard);
      log(result.ok ? 'PASS' : `FAIL: ${result.failure}`);
    }
  }
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
