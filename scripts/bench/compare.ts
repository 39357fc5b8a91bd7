/**
 * `npm run bench:compare`: herald against what users would pick instead (issue 4).
 *
 *   npm run build && npm run bench:compare -- [--connections 10000,50000,100000] [--reps 1]
 *       [--servers herald,herald-local,uws-bare,ws,socketio,netty] [--idle 10] [--broadcasts 10]
 *       [--interval 1] [--out-dir docs/benchmarks] [--timeout MIN] [--lock /tmp/herald-bench.lock]
 *
 * For each N, for each repetition, every server in turn (the order reversed on
 * every other repetition, so slow drift of the machine hits all servers alike):
 * fresh redis-server, the server with enough processes for N under the
 * 20,000-fd limit, ramp N, idle, broadcasts through Redis, stop everything.
 * See lib/compare-scenario.ts for the figures.
 *
 * Holds /tmp/herald-bench.lock for the whole run (shared with the C1M
 * benchmark), gives up after a hard timeout, and kills everything it started on
 * success, failure, timeout, SIGINT and SIGTERM. Results are rewritten after
 * every run, so an interrupted run still leaves its figures behind.
 * Exit: 0 all ran, 1 some server failed somewhere (a result, see the report), 2 harness error, 3 timeout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { acquireBenchLock, BENCH_LOCK, type HeldLock } from './lib/bench-lock';
import { DEFAULT_SCENARIO, runScenario, type RunResult, type ScenarioOptions } from './lib/compare-scenario';
import { aggregate, machineDescription, markdownReport, svgChart, textReport } from './lib/compare-report';
import { childPids } from './lib/proc-stats';
import { killAllGroups } from './lib/process-groups';
import { SERVER_NAMES, type ServerName } from './lib/server-runner';

interface CompareArgs {
  connections: number[];
  reps: number;
  servers: ServerName[];
  outDir: string;
  timeoutMin: number | null;
  lock: string;
  scenario: Omit<ScenarioOptions, 'log'>;
}

const USAGE = `usage: npm run bench:compare -- [--connections 10000,50000,100000] [--reps 1]
  [--servers ${SERVER_NAMES.join(',')}] [--idle S] [--broadcasts K] [--interval S]
  [--out-dir docs/benchmarks] [--timeout MIN] [--lock ${BENCH_LOCK}] [--per-server-process C] [--baseline-settle S]`;

export function parseCompareArgs(argv: string[]): CompareArgs {
  const a: CompareArgs = {
    connections: [10_000, 50_000, 100_000], reps: 1, servers: [...SERVER_NAMES],
    outDir: path.resolve(__dirname, '..', '..', '..', 'docs', 'benchmarks'), timeoutMin: null, lock: BENCH_LOCK,
    scenario: { ...DEFAULT_SCENARIO },
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = () => {
      const n = Number(val());
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number`);
      return n;
    };
    switch (flag) {
      case '--connections': a.connections = val().split(',').map(Number); break;
      case '--reps': a.reps = num(); break;
      case '--servers': a.servers = val().split(',') as ServerName[]; break;
      case '--idle': a.scenario.idleMs = num() * 1000; break;
      case '--broadcasts': a.scenario.broadcasts = num(); break;
      case '--interval': a.scenario.intervalMs = num() * 1000; break;
      case '--settle-max': a.scenario.settleMaxMs = num() * 1000; break;
      case '--per-server-process': a.scenario.perServerProcess = num(); break;
      case '--baseline-settle': a.scenario.baselineSettleMs = num() * 1000; break;
      case '--out-dir': a.outDir = path.resolve(val()); break;
      case '--timeout': a.timeoutMin = num(); break;
      case '--lock': a.lock = val(); break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  for (const s of a.servers) if (!SERVER_NAMES.includes(s)) throw new Error(`unknown server ${s}; known: ${SERVER_NAMES.join(', ')}`);
  if (a.connections.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--connections: positive integers');
  if (!Number.isInteger(a.reps) || a.reps < 1) throw new Error('--reps must be >= 1');
  return a;
}

/** Rough duration of one run, for the default overall timeout: fixed phases plus a slow ramp. */
function estimateRunSeconds(n: number, s: CompareArgs['scenario']): number {
  return 20 + s.idleMs / 1000 + (s.broadcasts * s.intervalMs) / 1000 + s.settleMaxMs / 1000 + n / 2000;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
}

async function main(): Promise<number> {
  const args = parseCompareArgs(process.argv.slice(2));
  const command = `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`.trim();
  const log = (s: string) => console.error(s);
  const started = new Date();
  const base = path.join(args.outDir, `compare-${stamp(started)}`);
  const runs: RunResult[] = [];
  let lock: HeldLock | null = null;
  let finished = false;

  const writeReports = (notes: string[] = []) => {
    fs.mkdirSync(args.outDir, { recursive: true });
    const aggs = aggregate(runs);
    const date = started.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const machine = machineDescription();
    fs.writeFileSync(`${base}.json`, JSON.stringify({ command, date, machine, args, aggregates: aggs, runs }, null, 2) + '\n');
    fs.writeFileSync(`${base}.svg`, svgChart(aggs, `herald vs peers, ${date}`) + '\n');
    fs.writeFileSync(`${base}.md`, markdownReport({ aggs, command, date, machine, svgFile: path.basename(`${base}.svg`), jsonFile: path.basename(`${base}.json`), notes }) + '\n');
    return aggs;
  };

  // Everything we started: server/redis process groups, then our direct
  // children (load-client processes, the flock holder).
  const cleanup = () => {
    killAllGroups();
    for (const pid of childPids(process.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  process.on('exit', cleanup);
  const abort = (why: string, code: number) => {
    if (finished) return;
    finished = true;
    log(`[compare] ${why}: stopping everything`);
    cleanup();
    try {
      if (runs.length) writeReports([`Run interrupted: ${why}; figures are those of the runs that completed.`]);
    } catch {
      /* reporting is best effort here */
    }
    process.exit(code);
  };
  process.on('SIGINT', () => abort('SIGINT', 130));
  process.on('SIGTERM', () => abort('SIGTERM', 143));

  lock = await acquireBenchLock(args.lock, log);
  const estimate = args.connections.reduce((s, n) => s + estimateRunSeconds(n, args.scenario), 0) * args.reps * args.servers.length;
  const timeoutMin = args.timeoutMin ?? Math.ceil((estimate * 2) / 60 + 5);
  // The timeout starts once the lock is held: waiting for the C1M job is not our run.
  setTimeout(() => abort(`hard timeout of ${timeoutMin} min`, 3), timeoutMin * 60_000).unref();
  log(`[compare] N=${args.connections.join(',')} x ${args.reps} rep(s) x ${args.servers.join(',')}; timeout ${timeoutMin} min; results -> ${base}.{json,md,svg}`);

  const scenario: ScenarioOptions = { ...args.scenario, log };
  let runNo = 0;
  for (const n of args.connections) {
    for (let rep = 1; rep <= args.reps; rep++) {
      const order = rep % 2 === 1 ? args.servers : [...args.servers].reverse();
      for (const server of order) {
        log(`[compare] N=${n} rep ${rep}/${args.reps}: ${server}`);
        const r = await runScenario(server, n, rep, scenario, runNo++);
        runs.push(r);
        log(`[compare]   -> ${r.ok ? 'ok' : `FAILED: ${r.failure}`}`);
        writeReports();
      }
    }
  }
  const aggs = writeReports();
  finished = true;
  console.log(`\nherald comparison, ${started.toISOString().slice(0, 16)} UTC, ${machineDescription()}\n`);
  console.log(textReport(aggs));
  console.log(`\nwritten: ${base}.json, ${base}.md, ${base}.svg`);
  lock.release();
  return runs.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`[compare] ${err.stack ?? err.message}`);
      process.exit(2);
    },
  );
}
