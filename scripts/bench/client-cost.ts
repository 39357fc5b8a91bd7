/**
 * `npm run bench:client`: what the project's load client costs next to a
 * minimal C epoll client (peers/c-client/ws-client.c), side by side against
 * the same server. Issue 12's bar: at most 1.5x the C client's CPU per
 * connect and per received message.
 *
 * One redis-server and one server (bare uWebSockets.js or herald) for the
 * whole run. Then, for each repetition, each client in turn (the order swapped
 * on every other repetition), each from fresh loopback source addresses:
 *
 *   start the client -> its processes are up     start-up CPU
 *                    -> all N connected       CPU per connect (over the ramp; and with start-up)
 *   idle S seconds                               idle CPU per second
 *   B broadcasts, each published once the        CPU per received message
 *   previous one reached every connection
 *   SIGTERM -> the client's own report
 *
 * CPU is user+sys from /proc/<pid>/stat summed over the client's processes
 * (the TypeScript client's coordinator included): robust to other load on the
 * box, unlike wall times. Writes <out-dir>/client-cost-<N>-<date>.{json,md}.
 * Holds the benchmark lock; stops everything it started on every way out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { choiceOption, numberOption, parseCli, parseOrExit, stringOption } from '../lib/cli';
import { createPublisher, type Publisher } from '../loadtest/publisher';
import { acquireBenchLock, BENCH_LOCK, type HeldLock } from './lib/bench-lock';
import { buildCClient, CLIENT_LABEL, clientsOption, startClient, type ClientKind, type RunningClient } from './lib/client-runner';
import { serverProcessesFor, sourceIpsFor } from './lib/compare-scenario';
import { machineDescription } from './lib/compare-report';
import { sumCpuTimes } from './lib/proc-stats';
import { killAllGroups, sleep } from './lib/process-groups';
import { AUTOGROUP_MODES, applyScheduling, formatScheduling, type Scheduling } from './lib/scheduling';
import { startRedis, startServer, type RunningRedis, type RunningServer } from './lib/server-runner';
import { fileStamp, median, ratio } from './lib/figures';

const SERVERS = ['uws-bare', 'herald'] as const;
type Server = (typeof SERVERS)[number];

const USAGE = `usage: npm run bench:client -- [options]

Runs the TypeScript load client (npm run loadtest) and the C reference client
one after the other against the same server, and reports each one's CPU
seconds (user+sys, all its processes) per connect and per received message,
and their ratio. Build first: npm run build.

  -c, --connections N    connections each client opens (default 20000)
  --server NAME          ${SERVERS.join(' | ')} (default uws-bare)
  --clients LIST         which clients, in order: ts, c, node-min (default ts,c). node-min is
                         the least a Node client can do on the same handles and decoder
                         (peers/node-min-client.ts, one process: N <= 19000); it splits
                         TypeScript/C into Node's own cost and the load client's
  --reps R               repetitions; the order is swapped on every other one (default 1)
  --broadcasts B         broadcasts per client run (default 10)
  --idle S               seconds idle after the ramp, for idle CPU (default 2)
  --rate R               connections per second, each client (default 10000)
  --max-pending P        handshakes in flight, each client (default 1000)
  --per-process K        connections per client process, both clients (default 19000)
  --autogroup MODE       keep: leave sched_autogroup_enabled as it is; off: 0 for the run,
                         restored after (default keep; servers and clients share one session either way)
  --out-dir DIR          where the dated JSON and markdown go (default docs/benchmarks)
  --timeout MIN          hard limit for the whole run (default: from N and the runs)
  --lock FILE            benchmark lock (default ${BENCH_LOCK})
  -h, --help             this text`;

interface Args {
  connections: number;
  server: Server;
  clients: ClientKind[];
  reps: number;
  broadcasts: number;
  idleS: number;
  rate: number;
  maxPending: number;
  perProcess: number;
  autogroup: (typeof AUTOGROUP_MODES)[number];
  outDir: string;
  timeoutMin: number;
  lock: string;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string', short: 'c' }, server: { type: 'string' }, clients: { type: 'string' }, reps: { type: 'string' },
    broadcasts: { type: 'string' }, idle: { type: 'string' }, rate: { type: 'string' }, 'max-pending': { type: 'string' },
    'per-process': { type: 'string' }, autogroup: { type: 'string' }, 'out-dir': { type: 'string' }, timeout: { type: 'string' },
    lock: { type: 'string' },
  }, USAGE);
  const a: Args = {
    connections: numberOption(v, 'connections', 20_000, { min: 1, integer: true }),
    server: choiceOption(v, 'server', SERVERS, 'uws-bare'),
    clients: clientsOption(v, ['ts', 'c']),
    reps: numberOption(v, 'reps', 1, { min: 1, integer: true }),
    broadcasts: numberOption(v, 'broadcasts', 10, { min: 1, integer: true }),
    idleS: numberOption(v, 'idle', 2),
    rate: numberOption(v, 'rate', 10_000, { min: 1 }),
    maxPending: numberOption(v, 'max-pending', 1000, { min: 1, integer: true }),
    perProcess: numberOption(v, 'per-process', 19_000, { min: 1, max: 19_000, integer: true }),
    autogroup: choiceOption(v, 'autogroup', AUTOGROUP_MODES, 'keep'),
    outDir: path.resolve(stringOption(v, 'out-dir', path.resolve(__dirname, '..', '..', '..', 'docs', 'benchmarks'))),
    timeoutMin: 0,
    lock: stringOption(v, 'lock', BENCH_LOCK),
  };
  const perRunS = 30 + a.idleS + a.connections / 1000 + a.broadcasts * (2 + a.connections / 20_000);
  a.timeoutMin = numberOption(v, 'timeout', Math.ceil((perRunS * a.reps * a.clients.length * 2) / 60 + 3), { min: 1 });
  return a;
}

interface CpuSplit { user: number; sys: number }
const total = (c: CpuSplit): number => c.user + c.sys;
const minus = (a: CpuSplit, b: CpuSplit): CpuSplit => ({ user: a.user - b.user, sys: a.sys - b.sys });

export interface ClientRun {
  client: ClientKind;
  rep: number;
  command: string;
  ok: boolean;
  failure: string | null;
  connected: number;
  connectWallSeconds: number | null;
  /** CPU seconds from process start until the client said its processes were up */
  startupCpu: CpuSplit | null;
  /** CPU seconds from then until every connection was open */
  rampCpu: CpuSplit | null;
  /** ramp CPU per connection */
  connectCpuUs: number | null;
  /** (start-up + ramp) CPU per connection */
  connectWithStartupCpuUs: number | null;
  idleCpuPerSecond: number | null;
  broadcasts: number;
  received: number;
  messageCpu: CpuSplit | null;
  messageCpuUs: number | null;
  /** the server's CPU over the same broadcast window, per received message: the same work for both clients */
  serverCpuUsPerMessage: number | null;
  report: string;
}

const us = (seconds: number, n: number): number | null => (n > 0 ? +((seconds * 1e6) / n).toFixed(2) : null);

async function runClient(kind: ClientKind, rep: number, block: number, a: Args, server: RunningServer, publisher: Publisher, cBinary: string, log: (s: string) => void): Promise<ClientRun> {
  const n = a.connections;
  const r: ClientRun = {
    client: kind, rep, command: '', ok: false, failure: null, connected: 0, connectWallSeconds: null, startupCpu: null, rampCpu: null,
    connectCpuUs: null, connectWithStartupCpuUs: null, idleCpuPerSecond: null, broadcasts: 0, received: 0, messageCpu: null, messageCpuUs: null, serverCpuUsPerMessage: null, report: '',
  };
  const started = Date.now();
  const c: RunningClient = startClient(kind, { url: server.url, connections: n, sourceIps: sourceIpsFor(n, block), rate: a.rate, maxPending: a.maxPending, perProcess: a.perProcess }, cBinary);
  r.command = c.command;
  try {
    if (!(await c.waitFor((p) => p.started, 60_000))) throw new Error(`never said its processes were up: ${c.exited() ?? 'timeout'}`);
    const atStart = c.cpu();
    const all = await c.waitFor((p) => p.connected >= n, 60_000 + n * 2);
    r.connected = c.latest().connected;
    if (!all) throw new Error(`connected ${r.connected}/${n} (errors ${c.latest().errors}) ${c.exited() ?? 'before the timeout'}`);
    const atConnect = c.cpu();
    r.connectWallSeconds = (Date.now() - started) / 1000;
    r.startupCpu = atStart;
    r.rampCpu = minus(atConnect, atStart);
    r.connectCpuUs = us(total(r.rampCpu), n);
    r.connectWithStartupCpuUs = us(total(atConnect), n);
    log(`  ${kind}: ${n} connected in ${r.connectWallSeconds.toFixed(1)} s wall; CPU s: start-up ${total(atStart).toFixed(2)}, ramp ${total(r.rampCpu).toFixed(2)} (${r.connectCpuUs} us/connect, ${r.connectWithStartupCpuUs} with start-up)`);

    await sleep(a.idleS * 1000);
    const afterIdle = c.cpu();
    r.idleCpuPerSecond = +(total(minus(afterIdle, atConnect)) / a.idleS).toFixed(3);

    const m0 = c.latest().messages;
    const s0 = sumCpuTimes(server.pids);
    for (let i = 1; i <= a.broadcasts; i++) {
      await publisher.publish(i);
      const want = m0 + i * r.connected;
      if (!(await c.waitFor((p) => p.messages >= want, 30_000 + n))) throw new Error(`broadcast ${i}: ${c.latest().messages - m0 - (i - 1) * r.connected}/${r.connected} copies arrived ${c.exited() ?? 'before the timeout'}`);
      r.broadcasts = i;
    }
    const done = c.cpu();
    r.received = c.latest().messages - m0;
    r.messageCpu = minus(done, afterIdle);
    r.messageCpuUs = us(total(r.messageCpu), r.received);
    r.serverCpuUsPerMessage = us(total(minus(sumCpuTimes(server.pids), s0)), r.received);
    log(`  ${kind}: ${r.received} messages, ${total(r.messageCpu).toFixed(2)} CPU s (${r.messageCpuUs} us/message; server ${r.serverCpuUsPerMessage} us/message)`);
    r.ok = true;
  } catch (e) {
    r.failure = (e as Error).message;
    log(`  ${kind}: FAILED: ${r.failure}`);
  } finally {
    r.report = await c.stop();
  }
  return r;
}

interface ClientSummary {
  client: ClientKind;
  runs: number;
  startupCpuSeconds: number | null;
  connectCpuUs: number | null;
  connectWithStartupCpuUs: number | null;
  messageCpuUs: number | null;
  idleCpuPerSecond: number | null;
}

function summarize(runs: ClientRun[], clients: ClientKind[]): ClientSummary[] {
  return clients.map((client) => {
    const rs = runs.filter((r) => r.client === client && r.ok);
    const med = (f: (r: ClientRun) => number | null): number | null => median(rs.map(f));
    return {
      client, runs: rs.length, startupCpuSeconds: med((r) => (r.startupCpu ? +total(r.startupCpu).toFixed(2) : null)),
      connectCpuUs: med((r) => r.connectCpuUs), connectWithStartupCpuUs: med((r) => r.connectWithStartupCpuUs),
      messageCpuUs: med((r) => r.messageCpuUs), idleCpuPerSecond: med((r) => r.idleCpuPerSecond),
    };
  });
}

const fig = (x: number | null, unit: string): string => (x === null ? 'n/a' : `${+x.toFixed(2)} ${unit}`);

function table(sums: ClientSummary[]): string[] {
  const rows = [
    '| client | runs | start-up CPU | CPU per connect (ramp) | per connect with start-up | CPU per received message | idle CPU |',
    '|---|---|---|---|---|---|---|',
    ...sums.map((s) => `| ${CLIENT_LABEL[s.client]} | ${s.runs} | ${fig(s.startupCpuSeconds, 's')} | ${fig(s.connectCpuUs, 'us')} | ${fig(s.connectWithStartupCpuUs, 'us')} | ${fig(s.messageCpuUs, 'us')} | ${fig(s.idleCpuPerSecond, 'CPU s/s')} |`),
  ];
  const of = (k: ClientKind): ClientSummary | undefined => sums.find((s) => s.client === k);
  const ts = of('ts'), c = of('c'), min = of('node-min');
  if (ts && c) {
    rows.push('', `TypeScript / C: **${ratio(ts.connectCpuUs, c.connectCpuUs)}** per connect over the ramp (${ratio(ts.connectWithStartupCpuUs, c.connectWithStartupCpuUs)} with process start-up), **${ratio(ts.messageCpuUs, c.messageCpuUs)}** per received message (target: at most 1.5x).`);
  }
  if (min && c) rows.push('', `Minimal Node / C (what Node itself costs): ${ratio(min.connectCpuUs, c.connectCpuUs)} per connect over the ramp, ${ratio(min.messageCpuUs, c.messageCpuUs)} per received message.`);
  if (ts && min) rows.push('', `TypeScript / minimal Node (what the load client's own work costs): ${ratio(ts.connectCpuUs, min.connectCpuUs)} per connect over the ramp, ${ratio(ts.messageCpuUs, min.messageCpuUs)} per received message.`);
  return rows;
}

function markdown(x: { a: Args; command: string; date: string; machine: string; scheduling: Scheduling; server: string; failure: string | null; runs: ClientRun[]; sums: ClientSummary[] }): string {
  const split = (c: CpuSplit | null): string => (c ? `${c.user.toFixed(2)}+${c.sys.toFixed(2)}` : 'n/a');
  const runRows = x.runs.map((r) => `| ${r.rep} | ${r.client} | ${r.ok ? 'ok' : `FAILED: ${r.failure}`} | ${r.connected} | ${r.connectWallSeconds?.toFixed(1) ?? 'n/a'} s | ${split(r.startupCpu)} | ${split(r.rampCpu)} | ${r.received} | ${split(r.messageCpu)} | ${r.serverCpuUsPerMessage ?? 'n/a'} us |`);
  return [
    `# Load client cost: TypeScript vs C, ${x.a.connections.toLocaleString('en-US')} connections`, '',
    ...(x.failure ? [`- **Run failed:** ${x.failure}`] : []),
    `- Date: ${x.date}`, `- Command: \`${x.command}\``, `- Machine: ${x.machine}`, `- Server: ${x.server}`,
    `- ${formatScheduling(x.scheduling)}`,
    `- Clients: ${[...new Set(x.runs.map((r) => `\`${r.command}\``))].join('; ')}`,
    '- CPU: user+sys seconds from /proc, summed over all of a client\'s processes. Start-up: from process start until the client printed that its processes were up (`client processes: K started`). Per connect: from then until every connection was open, divided by N (and with start-up added). Per message: over the broadcasts, each published once the previous one had reached every connection.', '',
    ...table(x.sums), '',
    '## Runs (CPU seconds user+sys)', '',
    '| rep | client | result | connected | connect wall | start-up CPU | ramp CPU | received | message CPU | server CPU per message |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...runRows, '',
  ].join('\n');
}

async function main(): Promise<number> {
  const a = parseOrExit('bench:client', () => parseArgs(process.argv.slice(2)));
  const log = (s: string): void => console.error(`[bench:client] ${s}`);
  const command = `npm run bench:client -- ${process.argv.slice(2).join(' ')}`.trim();
  const runs: ClientRun[] = [];
  let lock: HeldLock | null = null, redis: RunningRedis | null = null, server: RunningServer | null = null, publisher: Publisher | null = null;
  const stamp = fileStamp();
  const base = path.join(a.outDir, `client-cost-${a.connections}-${stamp}`);
  let scheduling: Scheduling | null = null;
  let failure: string | null = null;
  const machine = machineDescription();
  const date = new Date().toISOString();
  const write = (): void => {
    if (!scheduling) return;
    fs.mkdirSync(a.outDir, { recursive: true });
    const sums = summarize(runs, a.clients);
    const srv = `${a.server}, ${server?.processes ?? '?'} processes`;
    fs.writeFileSync(`${base}.json`, JSON.stringify({ command, date, machine, scheduling, args: a, server: srv, failure, summary: sums, runs }, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown({ a, command, date, machine, scheduling, server: srv, failure, runs, sums }));
  };
  process.on('exit', killAllGroups);
  const abort = (why: string, code: number): void => {
    log(`${why}: stopping everything`);
    killAllGroups();
    try { write(); } catch { /* best effort while aborting */ }
    process.exit(code);
  };
  process.on('SIGINT', () => abort('SIGINT', 130));
  process.on('SIGTERM', () => abort('SIGTERM', 143));
  try {
    lock = await acquireBenchLock(a.lock, log);
    setTimeout(() => abort(`hard timeout of ${a.timeoutMin} min`, 3), a.timeoutMin * 60_000).unref();
    scheduling = applyScheduling(a.autogroup, log);
    log(formatScheduling(scheduling));
    const cBinary = buildCClient();
    redis = await startRedis();
    server = await startServer(a.server, serverProcessesFor(a.connections, 16_000), redis.url);
    publisher = await createPublisher(redis.url, { channel: 'herald:broadcast', topic: 'broadcast', apiKey: null });
    log(`${a.server}: ${server.processes} processes at ${server.url}; N=${a.connections}, ${a.broadcasts} broadcasts, clients ${a.clients.join(',')} x ${a.reps}`);
    // Fresh source addresses for every client run (a closed run's ports sit in TIME_WAIT).
    let block = Math.floor(Date.now() / 60_000) % 125 * 2;
    for (let rep = 1; rep <= a.reps; rep++) {
      const order = rep % 2 === 1 ? a.clients : [...a.clients].reverse();
      for (const kind of order) {
        log(`rep ${rep}/${a.reps}: ${kind}`);
        runs.push(await runClient(kind, rep, block++, a, server, publisher, cBinary, log));
        write();
        if (server.died()) throw new Error(`server ${server.died()}`);
        await sleep(2000); // let the server close the last run's sockets
      }
    }
  } catch (e) {
    log(`FAILED: ${(e as Error).message}`);
    failure = (e as Error).message;
  } finally {
    await publisher?.close().catch(() => undefined);
    await server?.stop();
    await redis?.stop();
    write();
    lock?.release();
  }
  console.log(`\nload client cost, ${a.server}, N=${a.connections}, ${machine}\n`);
  if (failure) console.log(`FAILED: ${failure}\n`);
  console.log(table(summarize(runs, a.clients)).join('\n'));
  if (scheduling) console.log(`\n${formatScheduling(scheduling)}\nwritten: ${base}.json, ${base}.md`);
  return !failure && runs.every((r) => r.ok) ? 0 : 1;
}

main().then((code) => process.exit(code), (e: Error) => {
  console.error(`[bench:client] ${e.stack ?? e.message}`);
  process.exit(2);
});
