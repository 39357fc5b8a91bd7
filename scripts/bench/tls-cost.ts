/**
 * `node dist/scripts/bench/tls-cost.js --connections N`: what native TLS costs
 * per connection. Runs herald (local broker) twice per round, plain ws:// and
 * wss:// with a self-signed certificate made by the system openssl, ramps N
 * idle connections with the project's load client, and reads the workers'
 * memory (PSS, RSS) and the kernel's slab before the ramp, with all connected,
 * and after one broadcast has gone to all of them. Prints the figures and
 * writes docs/benchmarks/tls-cost-<N>-<date>.{json,md} (new files every run).
 *
 * Servers and load clients start in this process's session (lib/process-groups.ts);
 * every process it starts is stopped on every way out (end, failure, Ctrl-C,
 * SIGTERM, the hard timeout). Holds /tmp/herald-bench.lock while it runs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoadTest } from '../loadtest/coordinator';
import { DEFAULTS, expandSourceIps, type LoadOptions } from '../loadtest/options';
import { numberOption, parseCli, parseOrExit, stringOption } from '../lib/cli';
import { acquireBenchLock, BENCH_LOCK, type HeldLock } from './lib/bench-lock';
import { killAllGroups, sleep, startHerald, type RunningHerald } from './lib/c1m-procs';
import { readMeminfo, sumProcMemory, type ProcMemory } from './lib/proc-stats';
import { applyScheduling, formatScheduling, type Scheduling } from './lib/scheduling';
import { fileStamp } from './lib/figures';

interface Args {
  connections: number;
  workers: number;
  rounds: number;
  rate: number;
  perProcess: number;
  timeoutS: number;
  outDir: string;
  lock: string;
}

const USAGE = `usage: node dist/scripts/bench/tls-cost.js [options]

Memory per connection of herald's workers with TLS off (ws://) and on (wss://),
one after the other in each round: N idle connections, then one broadcast to all.
Writes <out-dir>/tls-cost-<N>-<date>.{json,md}. Build first: npm run build.

  -c, --connections N   connections to hold in each run (default 10000)
  --workers W           herald workers (default 2)
  --rounds R            rounds of (ws, wss) (default 1)
  --rate R              new connections per second (default 2000; TLS handshakes cost CPU)
  --per-process K       connections per load-client process (default 5000: a Node TLS client
                        socket costs the client ~10x a bare one)
  --timeout S           hard limit for the whole run, seconds (default 900)
  --out-dir DIR         where result files go (default docs/benchmarks)
  --lock FILE           the lock shared by the benchmarks (default ${BENCH_LOCK})
  -h, --help            this text`;

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string', short: 'c' }, workers: { type: 'string' }, rounds: { type: 'string' }, rate: { type: 'string' },
    'per-process': { type: 'string' }, timeout: { type: 'string' }, 'out-dir': { type: 'string' }, lock: { type: 'string' },
  } as const, USAGE);
  return {
    connections: numberOption(v, 'connections', 10_000, { min: 1, integer: true }),
    workers: numberOption(v, 'workers', 2, { min: 1, integer: true }),
    rounds: numberOption(v, 'rounds', 1, { min: 1, integer: true }),
    rate: numberOption(v, 'rate', 2000, { min: 1 }),
    perProcess: numberOption(v, 'per-process', 5000, { min: 1, max: 19_000, integer: true }),
    timeoutS: numberOption(v, 'timeout', 900, { min: 10 }),
    outDir: stringOption(v, 'out-dir', path.join(__dirname, '..', '..', '..', 'docs', 'benchmarks'))!,
    lock: stringOption(v, 'lock', BENCH_LOCK)!,
  };
}

const log = (s: string) => process.stderr.write(`[tls-cost] ${s}\n`);
const KiB = (bytes: number) => (bytes / 1024).toFixed(2);

interface Sample {
  workers: ProcMemory;
  slabBytes: number;
}

interface Run {
  mode: 'ws' | 'wss';
  round: number;
  connected: number;
  rampSeconds: number;
  idle: Sample;
  connectedIdle: Sample;
  afterBroadcast: Sample;
  broadcastReceived: number;
  perConnection: { pss: number; rss: number; slab: number; pssAfterBroadcast: number };
}

const sample = (herald: RunningHerald): Sample => ({ workers: sumProcMemory(herald.workerPids), slabBytes: readMeminfo().Slab ?? 0 });

/** A self-signed certificate for localhost (EC P-256, as a small production certificate would be). */
function certificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { certFile, keyFile };
}

async function oneRun(a: Args, mode: 'ws' | 'wss', round: number, cert: { certFile: string; keyFile: string }, track: (l: LoadTest | null) => void): Promise<Run> {
  const n = a.connections;
  const herald = await startHerald({
    workers: a.workers, redisUrl: 'redis://127.0.0.1:1', nodeFlags: [], readyTimeoutMs: 60_000,
    env: {
      HERALD_BROKER: 'local', HERALD_TARGET_CONNECTIONS: String(n), HERALD_IDLE_TIMEOUT: '0',
      ...(mode === 'wss' ? { HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: cert.keyFile } : {}),
    },
  });
  const url = mode === 'wss' ? herald.url.replace(/^ws:\/\/[^:]+/, 'wss://localhost') : herald.url;
  await sleep(3000); // start-up garbage settles
  const idle = sample(herald);
  // ~28,000 ports per source address; 2,000 per address keeps TIME_WAIT from one run out of the next.
  const sources = expandSourceIps(`127.0.0.2-127.0.0.${2 + Math.ceil(n / 2000)}`);
  const opts: LoadOptions = {
    ...DEFAULTS, urls: [url], connections: n, sourceIps: sources, rate: a.rate, maxPending: 500, perProcess: a.perProcess,
    connectTimeoutMs: 20_000, retries: 5, publishVia: herald.adminUrl, publishCount: 1, quiet: true,
    ca: mode === 'wss' ? cert.certFile : null, maxOldSpaceMb: mode === 'wss' ? 2048 : 0,
  };
  const lt = new LoadTest(opts);
  track(lt);
  try {
    const started = Date.now();
    await lt.start();
    const p = await lt.waitConnected(n, Math.max(120_000, (n / a.rate) * 4000));
    const rampSeconds = (Date.now() - started) / 1000;
    log(`${mode} round ${round}: ${p.connected}/${n} connected in ${rampSeconds.toFixed(1)} s (failed ${p.failed}, errors ${p.errors})`);
    if (p.connected < n) throw new Error(`${mode}: only ${p.connected} of ${n} connected`);
    await sleep(3000);
    const connectedIdle = sample(herald);
    await lt.publish();
    const deadline = Date.now() + 60_000;
    let received = 0;
    while (Date.now() < deadline && (received = lt.progress().messages) < n) await sleep(100);
    await sleep(2000);
    const afterBroadcast = sample(herald);
    const per = (b: number, a0: number) => (b - a0) / n;
    return {
      mode, round, connected: p.connected, rampSeconds, idle, connectedIdle, afterBroadcast, broadcastReceived: received,
      perConnection: {
        pss: per(connectedIdle.workers.pssBytes, idle.workers.pssBytes),
        rss: per(connectedIdle.workers.rssBytes, idle.workers.rssBytes),
        slab: per(connectedIdle.slabBytes, idle.slabBytes),
        pssAfterBroadcast: per(afterBroadcast.workers.pssBytes, idle.workers.pssBytes),
      },
    };
  } finally {
    await lt.stop().catch(() => lt.killNow());
    await herald.stop(15_000);
    track(null);
  }
}

function markdown(a: Args, runs: Run[], date: string, scheduling: Scheduling): string {
  const rows = runs.map((r) =>
    `| ${r.mode} | ${r.round} | ${r.connected.toLocaleString('en-US')} | ${r.rampSeconds.toFixed(1)} | ${KiB(r.perConnection.pss)} | ${KiB(r.perConnection.rss)} | ${KiB(r.perConnection.pssAfterBroadcast)} | ${KiB(r.perConnection.slab)} | ${r.broadcastReceived.toLocaleString('en-US')} |`);
  return `# TLS cost per connection, ${a.connections.toLocaleString('en-US')} connections

${date}, \`node dist/scripts/bench/tls-cost.js ${process.argv.slice(2).join(' ')}\`, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}.
Herald with the local broker, ${a.workers} workers; idle connections (no pings), the load client on the same machine.
${formatScheduling(scheduling)}

Per connection: the workers' PSS and RSS growth from before the ramp to all connected and idle; PSS again
after one broadcast reached every connection; the kernel's slab growth (both ends of each loopback
connection, and the load client's own sockets: an upper bound for the server side).

| mode | round | connected | ramp s | worker PSS KiB/conn | worker RSS KiB/conn | PSS after a broadcast | kernel slab KiB/conn | broadcast received |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

async function main(): Promise<void> {
  const a = parseOrExit('tls-cost', () => parseArgs(process.argv.slice(2)));
  const date = new Date().toISOString();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-cost-'));
  let lt: LoadTest | null = null;
  let lock: HeldLock | null = null;
  const cleanUp = () => {
    lt?.killNow();
    killAllGroups();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const hard = setTimeout(() => {
    log(`hard timeout of ${a.timeoutS} s reached: stopping everything`);
    process.exit(124);
  }, a.timeoutS * 1000);
  hard.unref();

  const runs: Run[] = [];
  try {
    lock = await acquireBenchLock(a.lock, log);
    const scheduling = applyScheduling('keep', log);
    log(formatScheduling(scheduling));
    const cert = certificate(dir);
    for (let round = 1; round <= a.rounds; round++) {
      for (const mode of ['ws', 'wss'] as const) {
        runs.push(await oneRun(a, mode, round, cert, (l) => (lt = l)));
        const r = runs[runs.length - 1];
        log(`${mode}: worker PSS ${KiB(r.perConnection.pss)} KiB/conn, RSS ${KiB(r.perConnection.rss)} KiB/conn, after a broadcast PSS ${KiB(r.perConnection.pssAfterBroadcast)} KiB/conn, slab ${KiB(r.perConnection.slab)} KiB/conn`);
      }
    }
    const md = markdown(a, runs, date, scheduling);
    process.stdout.write(md);
    fs.mkdirSync(a.outDir, { recursive: true });
    const base = path.join(a.outDir, `tls-cost-${a.connections}-${fileStamp(date)}`);
    fs.writeFileSync(`${base}.md`, md);
    fs.writeFileSync(`${base}.json`, `${JSON.stringify({ date, options: a, scheduling, runs }, null, 2)}\n`);
    log(`wrote ${base}.md and ${base}.json`);
  } finally {
    lock?.release();
    clearTimeout(hard);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`FAILED: ${err.message}`);
    process.exit(1);
  },
);
