/**
 * What the command protocol costs:
 *   node dist/scripts/bench/commands.js [--connections 10000] [--rate 10000] ...
 *
 * 1. Idle connections, one fresh herald per mode: memory per connection
 *    (workers' PSS and RSS, after minus before) and idle CPU, for raw
 *    connections, envelope connections with commands off and on (never sending
 *    one), and envelope connections that joined their topic by a command.
 * 2. Subscribe commands at a steady rate (10,000/s by default, half subscribe
 *    and half unsubscribe), on the last herald: replies, latency, herald CPU.
 *
 * Prints the figures and writes docs/benchmarks/commands-<N>-<date>.json.
 * Holds /tmp/herald-bench.lock; stops by itself; kills all it started.
 */
import { startHerald, startRedis, type RunningHerald, type RunningRedis } from './lib/c1m-procs';
import { CommandFleet, type ChurnFigures } from './lib/command-fleet';
import type { JoinMode } from './lib/command-fleet-worker';
import { cpuWindow, type CpuFigures } from './lib/cpu-window';
import { log, parseOptions, runBench, writeResult } from './lib/small-bench';
import { sleep } from './lib/process-groups';
import { sumProcMemory, type ProcMemory } from './lib/proc-stats';

const USAGE = `usage: node dist/scripts/bench/commands.js [options]
  --connections N        idle connections per mode (default 10000)
  --modes LIST           of raw, envelope-off, envelope, command (default: all four)
  --idle S               seconds of idle CPU measurement per mode (default 10)
  --workers W            herald workers (default 2; each holds at most ~19,000 connections under a 20,000-file limit)
  --broker B             local or redis (default local)
  --auth                 connections carry tokens (auth on: user index, kept claims)
  --rate R               commands per second in the command phase (default 10000; 0 skips it)
  --seconds S            length of the command phase (default 10)
  --churn-connections M  connections sending commands (default 4000: 2.5/s each, inside the default budget of 5/s)
  --topics T             distinct topics the command phase subscribes to (default 1000)
  --out DIR              where the dated JSON goes (default docs/benchmarks)`;

const DEFAULTS = { connections: 10_000, modes: 'raw,envelope-off,envelope,command', idle: 10, workers: 2, broker: 'local', auth: false, rate: 10_000, seconds: 10, churnConnections: 4000, topics: 1000, out: 'docs/benchmarks' };
type Mode = 'raw' | 'envelope-off' | 'envelope' | 'command';
const SECRET = 'bench-secret-of-at-least-32-bytes!!';

interface ModeFigures {
  mode: Mode;
  connections: number;
  errors: number;
  before: ProcMemory;
  after: ProcMemory;
  pssPerConnection: number;
  rssPerConnection: number;
  idle: CpuFigures;
  idleCpuMicrosPerConnectionSecond: number;
  /** The client processes' RSS with every connection open (to size a big run's clients). */
  clientRssPerConnection: number;
}

async function settledMemory(pids: number[]): Promise<ProcMemory> {
  await sleep(3000); // let allocation settle and a GC or two run
  return sumProcMemory(pids);
}

async function measureMode(mode: Mode, o: typeof DEFAULTS, redis: RunningRedis | undefined, churn: boolean): Promise<{ figures: ModeFigures; churn?: ChurnFigures & { cpu: CpuFigures } }> {
  const env: Record<string, string> = { HERALD_BROKER: o.broker, HERALD_COMMANDS: mode === 'envelope-off' ? 'false' : 'true' };
  if (o.auth) Object.assign(env, { HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: SECRET });
  const herald: RunningHerald = await startHerald({ workers: o.workers, redisUrl: redis?.url ?? 'redis://127.0.0.1:1', nodeFlags: [], env, readyTimeoutMs: 30_000 });
  const fleet = new CommandFleet();
  try {
    const before = await settledMemory(herald.workerPids);
    const join: JoinMode = mode === 'raw' ? 'raw' : mode === 'command' ? 'command' : 'envelope';
    const opened = await fleet.open({ url: herald.url, connections: o.connections, mode: join, rooms: 100, secret: o.auth ? SECRET : undefined, users: o.connections });
    log(`${mode}: ${opened.connections} connected (${opened.errors} errors, ${opened.joinErrors} join errors)`);
    const after = await settledMemory(herald.workerPids);
    const window = cpuWindow({ herald: [herald.primaryPid, ...herald.workerPids], clients: fleet.pids });
    await sleep(o.idle * 1000);
    const idle = window.stop();
    const heraldCpu = idle.groups.herald.user + idle.groups.herald.sys;
    const figures: ModeFigures = {
      mode,
      connections: opened.connections,
      errors: opened.errors + opened.joinErrors,
      before,
      after,
      pssPerConnection: (after.pssBytes - before.pssBytes) / opened.connections,
      rssPerConnection: (after.rssBytes - before.rssBytes) / opened.connections,
      idle,
      idleCpuMicrosPerConnectionSecond: (heraldCpu * 1e6) / idle.wallSeconds / opened.connections,
      clientRssPerConnection: sumProcMemory(fleet.pids).rssBytes / opened.connections,
    };
    if (!churn) return { figures };
    const cpu = cpuWindow({ herald: [herald.primaryPid, ...herald.workerPids], clients: fleet.pids });
    const result = await fleet.churn(o.rate, o.seconds, Math.min(o.churnConnections, opened.connections), o.topics);
    return { figures, churn: { ...result, cpu: cpu.stop() } };
  } finally {
    fleet.close();
    await herald.stop(10_000);
  }
}

const kib = (bytes: number) => (bytes / 1024).toFixed(2);

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), DEFAULTS, USAGE);
  const modes = o.modes.split(',') as Mode[];
  for (const m of modes) if (!['raw', 'envelope-off', 'envelope', 'command'].includes(m)) throw new Error(`unknown mode ${m}`);
  await runBench('commands', 300 + modes.length * (60 + o.connections / 500) + o.seconds, async () => {
    const redis = o.broker === 'redis' ? await startRedis() : undefined;
    const rows: ModeFigures[] = [];
    let churn: (ChurnFigures & { cpu: CpuFigures }) | undefined;
    for (const [i, mode] of modes.entries()) {
      const last = i === modes.length - 1 && o.rate > 0;
      const measured = await measureMode(mode, o, redis, last);
      rows.push(measured.figures);
      churn = measured.churn ?? churn;
    }
    await redis?.stop();

    const out = process.stdout;
    out.write(`\ncommands benchmark: ${o.connections} connections per mode, ${o.workers} workers, ${o.broker} broker${o.auth ? ', auth on' : ''}, idle window ${o.idle} s\n`);
    out.write('mode          | connections | PSS KiB/conn | RSS KiB/conn | herald idle CPU s | idle CPU µs per conn per s | client RSS KiB/conn\n');
    for (const r of rows) {
      const cpu = r.idle.groups.herald.user + r.idle.groups.herald.sys;
      out.write(`${r.mode.padEnd(13)} | ${String(r.connections).padStart(11)} | ${kib(r.pssPerConnection).padStart(12)} | ${kib(r.rssPerConnection).padStart(12)} | ${cpu.toFixed(2).padStart(17)} | ${r.idleCpuMicrosPerConnectionSecond.toFixed(3).padStart(26)} | ${kib(r.clientRssPerConnection).padStart(19)}\n`);
    }
    if (churn) {
      const cpu = churn.cpu.groups.herald.user + churn.cpu.groups.herald.sys;
      out.write(`\ncommand phase (${modes.at(-1)} herald): ${churn.sent} commands in ${churn.cpu.wallSeconds} s (target ${o.rate}/s over ${Math.min(o.churnConnections, o.connections)} connections, ${o.topics} topics)\n`);
      out.write(`  replies ${churn.replies}, answers ${JSON.stringify(churn.codes)}\n`);
      out.write(`  reply latency ms: p50 ${churn.p50.toFixed(2)}, p99 ${churn.p99.toFixed(2)}, max ${churn.max.toFixed(2)}\n`);
      out.write(`  herald CPU ${cpu.toFixed(2)} s (${((cpu * 1e6) / Math.max(1, churn.replies)).toFixed(1)} µs per command); client CPU ${(churn.cpu.groups.clients.user + churn.cpu.groups.clients.sys).toFixed(2)} s\n`);
    }
    const file = writeResult(o.out, `commands-${o.connections}`, { date: new Date().toISOString(), options: o, modes: rows, commandPhase: churn });
    out.write(`\nwrote ${file}\n`);
  });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`commands benchmark failed: ${err.message}`);
    process.exit(1);
  },
);
