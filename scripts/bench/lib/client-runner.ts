/**
 * Runs one load client as its own process group in the benchmark's session,
 * for the client calibration (bench:client): the project's TypeScript client
 * (`node dist/scripts/loadtest.js`, exactly what `npm run loadtest` runs) or the
 * C reference client (peers/c-client, compiled here with the system cc).
 *
 * Both hold their connections until SIGTERM, print `client processes: K
 * started` once their processes are up, the same progress line
 * (`<connected>/<target> connected ... errors=E failed=F msgs=M ...`) every
 * 100 ms on stderr, and their report on stdout at the end. CPU is read from
 * /proc for the client's whole process tree (coordinator or parent included).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { listOption, UsageError, type ParsedCli } from '../../lib/cli';
import { processTree, sumCpuTimes } from './proc-stats';
import { sleep, spawnGroup, stopGroup } from './process-groups';

/** ts: npm run loadtest; c: the C reference; node-min: the least a Node client does (one process, calibration only) */
export const CLIENT_KINDS = ['ts', 'c', 'node-min'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];
/** How reports name each client. */
export const CLIENT_LABEL: Record<ClientKind, string> = { ts: 'TypeScript (npm run loadtest)', c: 'C (ws-client.c)', 'node-min': 'minimal Node (node-min-client)' };

/** --clients: a list of client kinds, each one of `allowed`. */
export function clientsOption(values: ParsedCli['values'], dflt: ClientKind[], allowed: readonly ClientKind[] = CLIENT_KINDS): ClientKind[] {
  const clients = listOption(values, 'clients', dflt);
  for (const c of clients) if (!allowed.includes(c as ClientKind)) throw new UsageError(`--clients: unknown client ${c} (${allowed.join(', ')})`);
  return clients as ClientKind[];
}

const DIST_SCRIPTS = path.resolve(__dirname, '..', '..'); // dist/scripts
const SOURCE_ROOT = path.resolve(DIST_SCRIPTS, '..', '..');
const TS_CLIENT = path.join(DIST_SCRIPTS, 'loadtest.js');
const NODE_MIN_CLIENT = path.join(DIST_SCRIPTS, 'bench', 'peers', 'node-min-client.js');
const C_BUILD = path.join(SOURCE_ROOT, 'scripts', 'bench', 'peers', 'c-client', 'build.sh');
const PROGRESS_MS = 100;

export interface ClientSpec {
  url: string;
  connections: number;
  sourceIps: string[];
  rate: number;
  maxPending: number;
  perProcess: number;
}

export interface Progress {
  /** the client said its processes are up (the ramp starts) */
  started: boolean;
  connected: number;
  target: number;
  errors: number;
  failed: number;
  messages: number;
}

export interface RunningClient {
  kind: ClientKind;
  pid: number;
  command: string;
  latest(): Progress;
  /** Resolves true once pred holds, false after timeoutMs or when the client exits. */
  waitFor(pred: (p: Progress) => boolean, timeoutMs: number): Promise<boolean>;
  /** user and system CPU seconds of the client's processes so far */
  cpu(): { user: number; sys: number };
  exited(): string | null;
  /** SIGTERM, wait for the report (SIGKILL to the group after graceMs); returns stdout. */
  stop(graceMs?: number): Promise<string>;
}

/** Compiles the C client if its source changed; returns the binary. */
export function buildCClient(): string {
  return execFileSync('bash', [C_BUILD], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
}

function commandFor(kind: ClientKind, s: ClientSpec, cBinary: string): [string, string[]] {
  const common = ['--connections', String(s.connections), '--source-ips', s.sourceIps.join(','), '--rate', String(s.rate),
    '--max-pending', String(s.maxPending), '--per-process', String(s.perProcess)];
  if (kind === 'ts') return [process.execPath, [TS_CLIENT, ...common, '--duration', '0', '--progress-interval', String(PROGRESS_MS / 1000), s.url]];
  if (kind === 'node-min') return [process.execPath, [NODE_MIN_CLIENT, ...common, '--progress-ms', String(PROGRESS_MS), s.url]];
  return [cBinary, [...common, '--progress-ms', String(PROGRESS_MS), s.url]];
}

const LINE = /^(\d+)\/(\d+) connected\b.*\berrors=(\d+)\s+failed=(\d+)\s+msgs=(\d+)/;
const STARTED = /^client processes: \d+ started/;

/** "127.9.0.2,...,127.9.1.251 (500 addresses)": the list itself would fill a page of the report. */
function ipSummary(ips: string[]): string {
  return ips.length <= 3 ? ips.join(',') : `${ips[0]},...,${ips[ips.length - 1]} (${ips.length} addresses)`;
}

export function startClient(kind: ClientKind, spec: ClientSpec, cBinary: string): RunningClient {
  const [cmd, args] = commandFor(kind, spec, cBinary);
  const child: ChildProcess = spawnGroup(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let latest: Progress = { started: false, connected: 0, target: spec.connections, errors: 0, failed: 0, messages: 0 };
  let how: string | null = null;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => { how = `exited (${signal ?? `code ${code}`})`; resolve(); }));
  const stderrTail: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    const m = LINE.exec(line);
    if (m) latest = { started: true, connected: +m[1], target: +m[2], errors: +m[3], failed: +m[4], messages: +m[5] };
    else if (STARTED.test(line)) latest = { ...latest, started: true };
    else if (stderrTail.push(line) > 20) stderrTail.shift();
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const shown = (a: string): string => (a === TS_CLIENT || a === NODE_MIN_CLIENT ? path.relative(SOURCE_ROOT, a) : a === cBinary ? 'ws-client' : a === spec.sourceIps.join(',') ? ipSummary(spec.sourceIps) : a);
  return {
    kind,
    pid: child.pid!,
    command: [cmd === process.execPath ? 'node' : shown(cmd), ...args.map(shown)].join(' '),
    latest: () => latest,
    async waitFor(pred, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (!pred(latest)) {
        if (how || Date.now() > until) return false;
        await sleep(20);
      }
      return true;
    },
    cpu: () => sumCpuTimes(processTree(child.pid!)),
    exited: () => (how ? `${how}: ${stderrTail.join(' | ').slice(-600)}` : null),
    async stop(graceMs = 15_000) {
      if (!how) {
        child.kill('SIGTERM');
        await Promise.race([exit, sleep(graceMs)]);
      }
      await stopGroup(child, 1000);
      return stdout;
    },
  };
}
