/**
 * `npm run bench:floor`: herald against bare uWebSockets.js (its floor), side
 * by side in one run, with the same load client for both: the C reference
 * client, the project's TypeScript client, or both (issue 12, part 1). The
 * same harness compares herald's envelope connections (the command protocol
 * on, as shipped) with its raw ones (`--servers herald-envelope,herald`).
 *
 * For each repetition and each client, each server in turn (the order rotated
 * on every run set, so slow drift of the machine hits all alike):
 *
 *   fresh redis-server, the server with ceil(N / per-server-process) processes
 *   -> settle until the server's memory is flat, baseline memory
 *   -> start the client: connect-all time (client start until N are open)
 *   -> optionally A s after the ramp: server CPU (one-off work after a ramp,
 *      such as herald's quiet-time collection, apart from the idle figure)
 *   -> idle S s: server memory per connection, server CPU while idle
 *   -> B broadcasts, each published once the previous one reached every
 *      connection: completion time of each, server CPU per delivered message
 *   -> stop everything
 *
 * Every server gets the same liveness (idle timeout and automatic pings), by
 * default herald's shipped one, so idle CPU compares the same work, and bare
 * uWS gets herald workers' V8 flags (a small young generation). Servers,
 * clients and redis-server start in this process's session (see
 * lib/scheduling.ts). Writes <out-dir>/floor-<N>-<date>.{json,md}; holds the
 * benchmark lock; kills everything it started on every way out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeSchema } from '../../src/config';
import { choiceOption, numberOption, parseCli, parseOrExit, stringOption, UsageError } from '../lib/cli';
import { createPublisher, type Publisher } from '../loadtest/publisher';
import { runBenchmark } from './lib/bench-run';
import { BENCH_LOCK } from './lib/bench-lock';
import { buildCClient, CLIENT_LABEL, clientsOption, startClient, type ClientKind, type RunningClient } from './lib/client-runner';
import { serverProcessesFor, sourceIpsFor } from './lib/compare-scenario';
import { machineDescription } from './lib/compare-report';
import { sumCpuTimes, sumProcMemory } from './lib/proc-stats';
import { sleep } from './lib/process-groups';
import { AUTOGROUP_MODES, applyScheduling, formatScheduling, type Scheduling } from './lib/scheduling';
import { startRedis, startServer, type RunningRedis, type RunningServer } from './lib/server-runner';
import { fileStamp, median, ratio } from './lib/figures';

/** herald-envelope: herald as shipped, clients connecting with ?format=envelope (JSON frames, recovery session, commands on). */
const SERVERS = ['herald', 'herald-envelope', 'uws-bare'] as const;
type Server = (typeof SERVERS)[number];
const SERVER_LABEL: Record<Server, string> = { herald: 'herald', 'herald-envelope': 'herald envelope', 'uws-bare': 'bare uWS' };
/** herald's shipped workerNodeOptions, given to the bare uWS processes too */
const HERALD_WORKER_NODE_FLAGS = String(describeSchema().find((k) => k.key === 'workerNodeOptions')!.default).split(' ').filter(Boolean);
/** herald's shipped liveness.idleTimeoutSeconds (with pings) */
const HERALD_IDLE_TIMEOUT_S = 120;

const USAGE = `usage: npm run bench:floor -- [options]

Herald and bare uWebSockets.js side by side at N connections, each measured
with the same load client: connect-all time, server memory per connection,
server CPU while idle, broadcast completion and server CPU per delivered
message, with the ratios of the first server to each other one (herald / bare
uWS by default). Build first: npm run build.

  -c, --connections N      connections (default 1000000)
  --servers LIST           two or more of herald, herald-envelope (herald with ?format=envelope clients:
                           the command protocol on), uws-bare; ratios are the first over each other
                           (default herald,uws-bare)
  --clients LIST           c (ws-client.c), ts (npm run loadtest), or both, in order (default c,ts)
  --reps R                 repetitions of the whole set (default 1)
  --broadcasts B           broadcasts per run, each once the previous one reached everyone (default 3)
  --after-ramp A           seconds between the ramp and the idle window, their server CPU reported on its
                           own (default 0: the idle window starts with the last connection); 40 puts
                           herald's quiet-time collection (30 s after the last connection) before it
  --idle S                 seconds idle after the ramp (and A): memory reading and idle CPU window (default 30)
  --idle-timeout S         liveness for every server: idle timeout with pings, 0 for none (default ${HERALD_IDLE_TIMEOUT_S}, herald's default)
  --per-server-process K   connections per server process (default 16000, under the 20,000-file limit)
  --per-client-process K   connections per client process, both clients (default 19000)
  --rate R                 connections per second, whole client (default 1000000: as fast as it goes)
  --max-pending P          handshakes in flight, whole client (default 1000, under somaxconn 4096)
  --settle S               longest wait after the server is ready for its memory to stop shrinking, before
                           the baseline reading (default 120; V8 shrinks fresh processes for a while, and
                           60 processes on 2 cores take a while to start)
  --autogroup MODE         keep | off: sched_autogroup_enabled as it is, or 0 for the run and restored (default keep)
  --out-dir DIR            where the dated JSON and markdown go (default docs/benchmarks)
  --timeout MIN            hard limit for the whole run (default: from N)
  --lock FILE              benchmark lock (default ${BENCH_LOCK})
  -h, --help               this text`;

interface Args {
  connections: number;
  servers: Server[];
  clients: ClientKind[];
  reps: number;
  broadcasts: number;
  afterRampS: number;
  idleS: number;
  idleTimeoutS: number;
  perServerProcess: number;
  perClientProcess: number;
  rate: number;
  maxPending: number;
  settleS: number;
  autogroup: (typeof AUTOGROUP_MODES)[number];
  outDir: string;
  timeoutMin: number;
  lock: string;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string', short: 'c' }, servers: { type: 'string' }, clients: { type: 'string' }, reps: { type: 'string' }, broadcasts: { type: 'string' }, idle: { type: 'string' },
    'after-ramp': { type: 'string' }, 'idle-timeout': { type: 'string' }, 'per-server-process': { type: 'string' }, 'per-client-process': { type: 'string' },
    rate: { type: 'string' }, 'max-pending': { type: 'string' }, settle: { type: 'string' }, autogroup: { type: 'string' },
    'out-dir': { type: 'string' }, timeout: { type: 'string' }, lock: { type: 'string' },
  }, USAGE);
  const idleTimeoutS = numberOption(v, 'idle-timeout', HERALD_IDLE_TIMEOUT_S, { min: 0, max: 960, integer: true });
  if (idleTimeoutS !== 0 && (idleTimeoutS < 8 || idleTimeoutS % 4 !== 0)) throw new UsageError('--idle-timeout: 0 or a multiple of 4 of at least 8 (uWS)');
  const a: Args = {
    connections: numberOption(v, 'connections', 1_000_000, { min: 1, integer: true }),
    servers: serversOption(stringOption(v, 'servers', 'herald,uws-bare')),
    clients: clientsOption(v, ['c', 'ts'], ['c', 'ts']),
    reps: numberOption(v, 'reps', 1, { min: 1, integer: true }),
    broadcasts: numberOption(v, 'broadcasts', 3, { min: 1, integer: true }),
    afterRampS: numberOption(v, 'after-ramp', 0, { min: 0 }),
    idleS: numberOption(v, 'idle', 30, { min: 1 }),
    idleTimeoutS,
    perServerProcess: numberOption(v, 'per-server-process', 16_000, { min: 100, max: 19_000, integer: true }),
    perClientProcess: numberOption(v, 'per-client-process', 19_000, { min: 100, max: 19_000, integer: true }),
    rate: numberOption(v, 'rate', 1_000_000, { min: 1 }),
    maxPending: numberOption(v, 'max-pending', 1000, { min: 1, integer: true }),
    settleS: numberOption(v, 'settle', 120, { min: 0 }),
    autogroup: choiceOption(v, 'autogroup', AUTOGROUP_MODES, 'keep'),
    outDir: path.resolve(stringOption(v, 'out-dir', path.resolve(__dirname, '..', '..', '..', 'docs', 'benchmarks'))),
    timeoutMin: 0,
    lock: stringOption(v, 'lock', BENCH_LOCK),
  };
  // Per run: start-up and settle, a ramp at >= 1,000/s (the TS client's slowest measured), idle, broadcasts of <= 60 s each.
  const perRunS = 90 + a.settleS + a.connections / 1000 + a.afterRampS + a.idleS + a.broadcasts * (10 + a.connections / 16_000);
  a.timeoutMin = numberOption(v, 'timeout', Math.ceil((perRunS * a.servers.length * a.clients.length * a.reps) / 60 + 5), { min: 1 });
  return a;
}

function serversOption(list: string): Server[] {
  const names = list.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of names) if (!(SERVERS as readonly string[]).includes(x)) throw new UsageError(`--servers: unknown server ${x} (one of ${SERVERS.join(', ')})`);
  if (names.length < 2 || new Set(names).size !== names.length) throw new UsageError('--servers: at least two different servers');
  return names as Server[];
}

interface Cpu { user: number; sys: number }
const total = (c: Cpu): number => c.user + c.sys;

export interface FloorRun {
  server: Server;
  client: ClientKind;
  rep: number;
  processes: number;
  ok: boolean;
  failure: string | null;
  connected: number;
  /** client start until every connection was open, seconds */
  connectAllSeconds: number | null;
  /** server RSS and USS growth from the baseline to the end of the idle window, per connection, bytes */
  rssPerConn: number | null;
  ussPerConn: number | null;
  rssBaselineBytes: number | null;
  rssAfterIdleBytes: number | null;
  /** server CPU seconds per second between the ramp and the idle window (--after-ramp), null without one */
  afterRampCores: number | null;
  /** server CPU seconds per second over the idle window: cores in use */
  idleCores: number | null;
  /** publish until the client's counters showed every copy, per broadcast (100 ms progress lines) */
  completionSeconds: number[];
  delivered: number;
  serverCpuUsPerMessage: number | null;
  clientCpuUsPerMessage: number | null;
  clientCommand: string;
}

async function runOne(server: Server, client: ClientKind, rep: number, block: number, a: Args, cBinary: string, log: (s: string) => void, live: { stop: (() => Promise<void>) | null }): Promise<FloorRun> {
  const n = a.connections;
  const r: FloorRun = {
    server, client, rep, processes: serverProcessesFor(n, a.perServerProcess), ok: false, failure: null, connected: 0, connectAllSeconds: null,
    rssPerConn: null, ussPerConn: null, rssBaselineBytes: null, rssAfterIdleBytes: null, afterRampCores: null, idleCores: null, completionSeconds: [], delivered: 0,
    serverCpuUsPerMessage: null, clientCpuUsPerMessage: null, clientCommand: '',
  };
  let redis: RunningRedis | null = null, srv: RunningServer | null = null, c: RunningClient | null = null, publisher: Publisher | null = null;
  const stop = async (): Promise<void> => {
    await c?.stop().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    await srv?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    c = publisher = srv = redis = null;
  };
  live.stop = stop;
  try {
    redis = await startRedis();
    srv = await startServer(server === 'uws-bare' ? server : 'herald', r.processes, redis.url, {
      idleTimeoutS: a.idleTimeoutS,
      // The same V8 young-generation size as herald's workers: with V8's default, the bare processes
      // started ~7 MB larger each and shrank during the ramp, so memory per connection came out negative.
      ...(server === 'uws-bare' ? { nodeFlags: HERALD_WORKER_NODE_FLAGS } : {}),
    });
    const s = srv;
    const url = server === 'herald-envelope' ? `${s.url}?format=envelope` : s.url;
    publisher = await createPublisher(redis.url, { channel: 'herald:broadcast', topic: 'broadcast', apiKey: null });
    const settledS = await settleMemory(s.pids, a.settleS);
    log(`  ${server}: memory flat after ${settledS} s`);
    const base = sumProcMemory(s.pids);
    r.rssBaselineBytes = base.rssBytes;

    const t0 = Date.now();
    c = startClient(client, { url, connections: n, sourceIps: sourceIpsFor(n, block), rate: a.rate, maxPending: a.maxPending, perProcess: a.perClientProcess }, cBinary);
    const cl = c;
    r.clientCommand = cl.command;
    const all = await cl.waitFor((p) => p.connected >= n, 120_000 + n * 2);
    r.connected = cl.latest().connected;
    if (!all) throw new Error(`connected ${r.connected}/${n} (errors ${cl.latest().errors}, failed ${cl.latest().failed}) ${cl.exited() ?? 'before the timeout'}`);
    r.connectAllSeconds = +((Date.now() - t0) / 1000).toFixed(2);
    log(`  ${server} / ${client}: ${n} connected in ${r.connectAllSeconds} s; ${a.afterRampS ? `${a.afterRampS} s after the ramp, then ` : ''}idle ${a.idleS} s`);

    if (a.afterRampS > 0) r.afterRampCores = await serverCores(s.pids, a.afterRampS);
    r.idleCores = await serverCores(s.pids, a.idleS);
    const after = sumProcMemory(s.pids);
    r.rssAfterIdleBytes = after.rssBytes;
    r.rssPerConn = Math.round((after.rssBytes - base.rssBytes) / r.connected);
    r.ussPerConn = Math.round((after.ussBytes - base.ussBytes) / r.connected);
    if (s.died()) throw new Error(`server ${s.died()}`);

    const m0 = cl.latest().messages;
    const sCpu0 = total(sumCpuTimes(s.pids)), cCpu0 = total(cl.cpu());
    for (let i = 1; i <= a.broadcasts; i++) {
      const want = m0 + i * r.connected;
      const tPub = Date.now();
      await publisher.publish(i);
      if (!(await cl.waitFor((p) => p.messages >= want, 60_000 + n / 10))) {
        throw new Error(`broadcast ${i}: ${cl.latest().messages - m0 - (i - 1) * r.connected}/${r.connected} copies arrived ${cl.exited() ?? 'before the timeout'}`);
      }
      r.completionSeconds.push(+((Date.now() - tPub) / 1000).toFixed(2));
    }
    r.delivered = cl.latest().messages - m0;
    r.serverCpuUsPerMessage = +(((total(sumCpuTimes(s.pids)) - sCpu0) * 1e6) / r.delivered).toFixed(2);
    r.clientCpuUsPerMessage = +(((total(cl.cpu()) - cCpu0) * 1e6) / r.delivered).toFixed(2);
    log(`  ${server} / ${client}: completion ${r.completionSeconds.join(', ')} s; server ${r.serverCpuUsPerMessage} us/message; idle ${r.idleCores} cores; ${r.rssPerConn} B/conn RSS`);
    if (s.died()) throw new Error(`server ${s.died()}`);
    r.ok = true;
  } catch (e) {
    r.failure = (e as Error).message;
    log(`  ${server} / ${client}: FAILED: ${r.failure}`);
  } finally {
    await stop();
    live.stop = null;
  }
  return r;
}

/** The processes' user+sys CPU seconds per second over the next `seconds`. */
async function serverCores(pids: number[], seconds: number): Promise<number> {
  const cpu0 = total(sumCpuTimes(pids)), t0 = Date.now();
  await sleep(seconds * 1000);
  return +((total(sumCpuTimes(pids)) - cpu0) / ((Date.now() - t0) / 1000)).toFixed(3);
}

/**
 * Waits until the processes' total RSS moved by less than 1 MiB over 10 s, or
 * `maxS`; returns the seconds waited. A baseline taken while V8 still shrinks a
 * fresh process (~10 MB each) made 1M connections on 63 processes come out at
 * -95 bytes each.
 */
async function settleMemory(pids: number[], maxS: number): Promise<number> {
  const t0 = Date.now();
  let last = sumProcMemory(pids).rssBytes;
  while (Date.now() - t0 < maxS * 1000) {
    await sleep(10_000);
    const now = sumProcMemory(pids).rssBytes;
    if (Math.abs(now - last) < 2 ** 20) break;
    last = now;
  }
  return Math.round((Date.now() - t0) / 1000);
}

const rotate = <T>(xs: T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]);

/** Median over the successful runs of one server and client. */
function medianOf(runs: FloorRun[], server: Server, client: ClientKind, f: (r: FloorRun) => number | null): number | null {
  return median(runs.filter((r) => r.ok && r.server === server && r.client === client).map(f));
}

/** One table per client: every run of every server, then the first server over each other one, over the medians. */
export function tables(runs: FloorRun[], clients: ClientKind[], servers: Server[]): string[] {
  const out: string[] = [];
  const row = (r: FloorRun): string =>
    `| ${SERVER_LABEL[r.server]} | ${r.rep} | ${r.ok ? 'ok' : `FAILED: ${r.failure}`} | ${r.processes} | ${r.connected.toLocaleString('en-US')} | ${r.connectAllSeconds ?? 'n/a'} s | ${r.rssPerConn ?? 'n/a'} B (USS ${r.ussPerConn ?? 'n/a'} B) | ${r.rssAfterIdleBytes === null ? 'n/a' : `${Math.round(r.rssAfterIdleBytes / 2 ** 20)} MiB`} | ${r.completionSeconds.join(', ') || 'n/a'} s | ${r.serverCpuUsPerMessage ?? 'n/a'} us | ${r.afterRampCores ?? 'n/a'} | ${r.idleCores ?? 'n/a'} | ${r.clientCpuUsPerMessage ?? 'n/a'} us |`;
  const [first, ...others] = servers;
  for (const client of new Set(clients)) {
    const ratioRow = (other: Server): string => {
      const both = (f: (r: FloorRun) => number | null): string => `**${ratio(medianOf(runs, first, client, f), medianOf(runs, other, client, f))}**`;
      return `| **${SERVER_LABEL[first]} / ${SERVER_LABEL[other]}** (medians) | | | | | ${both((r) => r.connectAllSeconds)} | ${both((r) => r.rssPerConn)} | ${both((r) => r.rssAfterIdleBytes)} | ${both((r) => median(r.completionSeconds))} | ${both((r) => r.serverCpuUsPerMessage)} | ${both((r) => r.afterRampCores)} | ${both((r) => r.idleCores)} | |`;
    };
    out.push(
      `### Client: ${CLIENT_LABEL[client]}`, '',
      '| server | rep | result | processes | connected | connect all | memory per conn (RSS) | RSS holding them (all processes) | broadcast completion | server CPU per delivered message | server CPU after the ramp (cores) | server CPU while idle (cores) | client CPU per message |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...runs.filter((r) => r.client === client).map(row),
      ...others.map(ratioRow),
      '',
    );
  }
  const onHerald = (client: ClientKind, f: (r: FloorRun) => number | null) => medianOf(runs, 'herald', client, f);
  if (onHerald('ts', (r) => r.connectAllSeconds) !== null && onHerald('c', (r) => r.connectAllSeconds) !== null) {
    const tsOverC = (f: (r: FloorRun) => number | null) => ratio(onHerald('ts', f), onHerald('c', f));
    out.push(`On herald, TypeScript client / C client: connect-all **${tsOverC((r) => r.connectAllSeconds)}**, broadcast completion **${tsOverC((r) => median(r.completionSeconds))}** (medians).`, '');
  }
  return out;
}

function markdown(x: { a: Args; command: string; date: string; machine: string; scheduling: Scheduling; failure: string | null; runs: FloorRun[] }): string {
  const liveness = x.a.idleTimeoutS ? `idle timeout ${x.a.idleTimeoutS} s with automatic pings on every server (herald's default)` : 'no idle timeout and no pings on any server';
  return [
    `# ${x.a.servers.map((k) => SERVER_LABEL[k]).join(' vs ')} at ${x.a.connections.toLocaleString('en-US')} connections`, '',
    ...(x.failure ? [`- **Run failed:** ${x.failure}`] : []),
    `- Date: ${x.date}`, `- Command: \`${x.command}\``, `- Machine: ${x.machine}`, `- ${formatScheduling(x.scheduling)}`,
    `- Liveness: ${liveness}.`,
    ...(x.a.servers.includes('uws-bare') ? [`- V8 flags: bare uWS processes run with herald workers' default \`${HERALD_WORKER_NODE_FLAGS.join(' ')}\`.`] : []),
    `- Clients: ${[...new Set(x.runs.map((r) => `\`${r.clientCommand}\``))].join('; ')}`,
    `- Figures: connect all = client start until every connection was open; memory per conn = server RSS (all its processes; herald's primary included) at the end of the ${x.a.idleS} s idle window${x.a.afterRampS ? ` (which began ${x.a.afterRampS} s after the last connection opened)` : ''} minus before the ramp, per connection (meaningless when the processes shrink during the ramp by more than the connections add); RSS holding them = that end reading itself; idle CPU = server user+sys CPU seconds per second over that window; CPU after the ramp = the same over the ${x.a.afterRampS} s before it (n/a without --after-ramp); broadcast completion = one PUBLISH to Redis until the client's progress counters (every 100 ms) showed every copy, each broadcast published once the previous one had arrived everywhere; CPU per message = server user+sys over the broadcasts / copies delivered.`, '',
    ...tables(x.runs, x.a.clients, x.a.servers),
  ].join('\n');
}

async function main(): Promise<void> {
  const a = parseOrExit('bench:floor', () => parseArgs(process.argv.slice(2)));
  const log = (s: string): void => console.error(`[bench:floor] ${s}`);
  const command = `npm run bench:floor -- ${process.argv.slice(2).join(' ')}`.trim();
  const stamp = fileStamp();
  const base = path.join(a.outDir, `floor-${a.connections}-${stamp}`);
  const date = new Date().toISOString(), machine = machineDescription();
  const runs: FloorRun[] = [];
  const live: { stop: (() => Promise<void>) | null } = { stop: null };
  let scheduling: Scheduling | null = null, failure: string | null = null;
  await runBenchmark({
    timeoutS: a.timeoutMin * 60,
    lockFile: a.lock,
    log,
    async run() {
      scheduling = applyScheduling(a.autogroup, log);
      log(formatScheduling(scheduling));
      const cBinary = a.clients.includes('c') ? buildCClient() : '';
      // Fresh source addresses for every run (a closed run's ports sit in TIME_WAIT).
      let block = Math.floor(Date.now() / 60_000) % 125 * 2;
      // The server order rotates on every run set (two servers: flips), so slow drift of the machine hits all alike.
      let set = 0;
      for (let rep = 1; rep <= a.reps; rep++) {
        for (const client of a.clients) {
          const order = rotate(a.servers, set++);
          for (const server of order) {
            log(`rep ${rep}/${a.reps}: ${server} with the ${client} client, N=${a.connections}`);
            runs.push(await runOne(server, client, rep, block++, a, cBinary, log, live));
            await sleep(2000);
          }
        }
      }
    },
    teardown: async () => { await live.stop?.(); },
    fail: (why) => { failure = why; },
    write() {
      if (!scheduling) return;
      fs.mkdirSync(a.outDir, { recursive: true });
      fs.writeFileSync(`${base}.json`, JSON.stringify({ command, date, machine, scheduling, args: a, failure, runs }, null, 2) + '\n');
      fs.writeFileSync(`${base}.md`, markdown({ a, command, date, machine, scheduling, failure, runs }));
      console.log(`\n${tables(runs, a.clients, a.servers).join('\n')}\nwritten: ${base}.json, ${base}.md`);
    },
  });
  process.exit(failure || runs.some((r) => !r.ok) ? 1 : 0);
}

void main();
