/**
 * `npm run bench:compare`: herald against what users would pick instead (issue 4).
 *
 *   npm run build && npm run bench:compare -- --help
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
 * Servers and load clients start in this process's session (see
 * lib/process-groups.ts); the results record the scheduling conditions.
 * Exit: 0 all ran, 1 some server failed somewhere (a result, see the report), 2 harness error, 3 timeout, 64 bad usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { acquireBenchLock, BENCH_LOCK, type HeldLock } from './lib/bench-lock';
import { DEFAULT_SCENARIO, runScenario, type RunResult, type ScenarioOptions } from './lib/compare-scenario';
import { aggregate, machineDescription, markdownReport, svgChart, textReport } from './lib/compare-report';
import { childPids } from './lib/proc-stats';
import { killAllGroups } from './lib/process-groups';
import { AUTOGROUP_MODES, applyScheduling, formatScheduling, type AutogroupMode, type Scheduling } from './lib/scheduling';
import { choiceOption, listOption, numberOption, parseCli, parseOrExit, stringOption, toNumber, UsageError } from '../lib/cli';
import { SERVER_NAMES, type ServerName } from './lib/server-runner';
import { fileStamp } from './lib/figures';

interface CompareArgs {
  connections: number[];
  reps: number;
  servers: ServerName[];
  outDir: string;
  timeoutMin: number | null;
  lock: string;
  autogroup: AutogroupMode;
  scenario: Omit<ScenarioOptions, 'log'>;
}

const USAGE = `usage: npm run bench:compare -- [options]

Herald against the servers users would pick instead, one at a time on this box:
for each N, each repetition and each server (the order reversed on every other
repetition), a fresh redis-server and the server with enough processes for N
under the open-file limit, then the load client ramps N connections, idles,
publishes broadcasts through Redis (the herald-local server: through its admin
API) and every process is stopped. Prints a table with ratios herald / peer
and writes <out-dir>/compare-<date>.{json,md,svg}. Build first: npm run build.

  --connections LIST      N values, e.g. 10000,50000,100000 (default 10000,50000,100000)
  --reps R                repetitions of each N (default 1)
  --servers LIST          any of ${SERVER_NAMES.join(',')} (default all)
  --idle S                seconds idle after the ramp, before the memory reading (default ${DEFAULT_SCENARIO.idleMs / 1000})
  --broadcasts K          broadcasts per run (default ${DEFAULT_SCENARIO.broadcasts})
  --interval S            seconds between broadcasts (default ${DEFAULT_SCENARIO.intervalMs / 1000})
  --settle-max S          longest wait for the last broadcast's last copies (default ${DEFAULT_SCENARIO.settleMaxMs / 1000})
  --per-server-process C  connections per server process; processes = max(2, ceil(N / C)) (default ${DEFAULT_SCENARIO.perServerProcess})
  --baseline-settle S     wait after a server is ready before its baseline memory reading (default ${DEFAULT_SCENARIO.baselineSettleMs / 1000})
  --autogroup MODE        keep: leave /proc/sys/kernel/sched_autogroup_enabled alone; off: 0 for the
                          run, restored after (default keep). Servers and the load client run in
                          this process's session either way, so they compete as plain processes.
  --out-dir DIR           where the dated results go (default docs/benchmarks)
  --timeout MIN           hard limit for the whole run (default: estimated from the runs, x2)
  --lock FILE             the benchmark lock shared with bench:c1m and bench:client (default ${BENCH_LOCK})
  -h, --help              this text

Exit: 0 every run ok, 1 some server failed somewhere (a result: see the report), 2 harness error, 3 timeout, 64 bad usage.`;

export function parseCompareArgs(argv: string[]): CompareArgs {
  const { values: v } = parseCli(argv, {
    connections: { type: 'string' }, reps: { type: 'string' }, servers: { type: 'string' }, idle: { type: 'string' },
    broadcasts: { type: 'string' }, interval: { type: 'string' }, 'settle-max': { type: 'string' }, 'per-server-process': { type: 'string' },
    'baseline-settle': { type: 'string' }, autogroup: { type: 'string' }, 'out-dir': { type: 'string' }, timeout: { type: 'string' }, lock: { type: 'string' },
  }, USAGE);
  const d = DEFAULT_SCENARIO;
  const servers = listOption(v, 'servers', [...SERVER_NAMES]);
  for (const s of servers) if (!SERVER_NAMES.includes(s as ServerName)) throw new UsageError(`unknown server ${s}; known: ${SERVER_NAMES.join(', ')}`);
  return {
    connections: listOption(v, 'connections', ['10000', '50000', '100000']).map((x) => toNumber('--connections', x, { min: 1, integer: true })),
    reps: numberOption(v, 'reps', 1, { min: 1, integer: true }),
    servers: servers as ServerName[],
    outDir: path.resolve(stringOption(v, 'out-dir', path.resolve(__dirname, '..', '..', '..', 'docs', 'benchmarks'))),
    timeoutMin: v.timeout === undefined ? null : numberOption(v, 'timeout', 0, { min: 1 }),
    lock: stringOption(v, 'lock', BENCH_LOCK),
    autogroup: choiceOption(v, 'autogroup', AUTOGROUP_MODES, 'keep'),
    scenario: {
      ...d,
      idleMs: numberOption(v, 'idle', d.idleMs / 1000) * 1000,
      broadcasts: numberOption(v, 'broadcasts', d.broadcasts, { min: 1, integer: true }),
      intervalMs: numberOption(v, 'interval', d.intervalMs / 1000) * 1000,
      settleMaxMs: numberOption(v, 'settle-max', d.settleMaxMs / 1000) * 1000,
      perServerProcess: numberOption(v, 'per-server-process', d.perServerProcess, { min: 1, max: 19_000, integer: true }),
      baselineSettleMs: numberOption(v, 'baseline-settle', d.baselineSettleMs / 1000) * 1000,
    },
  };
}

/** Rough duration of one run, for the default overall timeout: fixed phases plus a slow ramp. */
function estimateRunSeconds(n: number, s: CompareArgs['scenario']): number {
  return 20 + s.idleMs / 1000 + (s.broadcasts * s.intervalMs) / 1000 + s.settleMaxMs / 1000 + n / 2000;
}

async function main(): Promise<number> {
  const args = parseOrExit('bench:compare', () => parseCompareArgs(process.argv.slice(2)));
  const command = `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`.trim();
  const log = (s: string) => console.error(s);
  const started = new Date();
  const base = path.join(args.outDir, `compare-${fileStamp(started)}`);
  const runs: RunResult[] = [];
  let lock: HeldLock | null = null;
  let finished = false;
  let scheduling: Scheduling | null = null;

  const writeReports = (notes: string[] = []) => {
    fs.mkdirSync(args.outDir, { recursive: true });
    const aggs = aggregate(runs);
    const date = started.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const machine = machineDescription();
    fs.writeFileSync(`${base}.json`, JSON.stringify({ command, date, machine, scheduling, args, aggregates: aggs, runs }, null, 2) + '\n');
    fs.writeFileSync(`${base}.svg`, svgChart(aggs, `herald vs peers, ${date}`) + '\n');
    const sched = scheduling ? formatScheduling(scheduling) : 'Scheduling: not recorded.';
    fs.writeFileSync(`${base}.md`, markdownReport({ aggs, command, date, machine, scheduling: sched, svgFile: path.basename(`${base}.svg`), jsonFile: path.basename(`${base}.json`), notes }) + '\n');
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
  scheduling = applyScheduling(args.autogroup, log);
  log(`[compare] ${formatScheduling(scheduling)}`);
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
  console.log(`\n${formatScheduling(scheduling)}`);
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
