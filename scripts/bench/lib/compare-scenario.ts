/**
 * One cell of the comparison: one server at N connections, from a fresh
 * redis-server to nothing left running.
 *
 *   start redis + server -> baseline memory -> ramp N -> idle -> B broadcasts
 *   (stamped once, just before publishing) -> settle -> figures -> stop all
 *
 * A failure at any phase is caught and recorded with the figures gathered so
 * far: a peer that cannot hold N is a result, not a crash of the harness.
 */
import { LoadTest } from '../../loadtest/coordinator';
import { DEFAULTS, type LoadOptions } from '../../loadtest/options';
import type { LoadResult } from '../../loadtest/result';
import { childPids, cmdline, sumCpuSeconds, sumProcMemory } from './proc-stats';
import { sleep, startRedis, startServer, type RunningRedis, type RunningServer, type ServerName } from './server-runner';
import { median } from './figures';

export interface ScenarioOptions {
  idleMs: number;
  broadcasts: number;
  intervalMs: number;
  /** Longest wait after the last broadcast for its last copies. */
  settleMaxMs: number;
  /** Client ramp: connections per second (total) and handshakes in flight (total). */
  rate: number;
  maxPending: number;
  /** Connections per server process; processes = max(2, ceil(N / this)). */
  perServerProcess: number;
  /** Wait after the server is ready before the baseline memory reading. */
  baselineSettleMs: number;
  log: (s: string) => void;
}

export const DEFAULT_SCENARIO: Omit<ScenarioOptions, 'log'> = {
  idleMs: 10_000,
  broadcasts: 10,
  intervalMs: 1000,
  settleMaxMs: 15_000,
  // Effectively unthrottled: the connect rate is a measured figure, not a setting.
  // The in-flight cap keeps SYNs under the listen backlog (somaxconn 4096).
  rate: 1_000_000,
  maxPending: 1000,
  // Under the 20,000-fd limit with headroom for SO_REUSEPORT's uneven hashing.
  perServerProcess: 16_000,
  // V8's memory reducer shrinks a fresh Node process by ~10 MB some seconds
  // (in steps) after start-up; a baseline taken before that makes per-connection memory
  // come out negative at 10k connections. Measured on an idle bare-uWS process: -11 MB at 10 s, -2 MB more at 18 s, flat after. 20 s is past both.
  baselineSettleMs: 20_000,
};

/**
 * Connections per loopback source address. Binding a source address makes the
 * kernel search that address's ephemeral ports on every connect, and the search
 * slows down badly as the ports fill (measured: 10k connections from one
 * address ramp at ~1,000/s, from eight at ~6,300/s). A few thousand per
 * address keeps the client's connect() cheap, so the ramp measures the server.
 */
const CONNECTIONS_PER_SOURCE_IP = 2_000;

export interface MemoryFigures {
  rssBefore: number;
  rssAfterRamp: number;
  rssAfterIdle: number;
  ussBefore: number;
  ussAfterIdle: number;
  /** (after idle - before) / connected, bytes */
  rssPerConn: number | null;
  ussPerConn: number | null;
}

export interface RunResult {
  server: ServerName;
  n: number;
  rep: number;
  processes: number;
  clientProcesses: number;
  ok: boolean;
  /** How it failed (phase: message), when it did. */
  failure: string | null;
  connected: number;
  failed: number;
  dropped: number;
  errors: Record<string, number>;
  rampSeconds: number | null;
  /** Connections per second between 10% and 90% of N (the steady part of the ramp). */
  connectRate: number | null;
  memory: MemoryFigures | null;
  /** Server utime+stime over the broadcast phase, and per delivered message. */
  serverCpuSeconds: number | null;
  serverCpuUsPerMsg: number | null;
  /** The same for the load client's processes: shows when the client was the limit. */
  clientCpuSeconds: number | null;
  clientCpuUsPerMsg: number | null;
  broadcastPhaseSeconds: number | null;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  completionMs: (number | null)[];
  completionMedianMs: number | null;
  completionMaxMs: number | null;
  latencyMs: { p50: number; p99: number; max: number } | null;
}

export function serverProcessesFor(n: number, perServerProcess: number): number {
  return Math.max(2, Math.ceil(n / perServerProcess));
}

/** Client processes: at least 2 (the box has 2 cores), at most 19,000 sockets each. */
export function clientPerProcess(n: number): number {
  return Math.min(19_000, Math.max(1, Math.ceil(n / 2)));
}

/**
 * Source addresses for run number `block`: 127.B.H.2 ... 127.B.H.251 for
 * H = 0, 1, ... as N needs. Each run gets its own /16, because the previous
 * run's closed connections sit in TIME_WAIT for a minute and would make the
 * same addresses' port search slow. 127.0.0.0/16 (the servers) is never used.
 */
export function sourceIpsFor(n: number, block: number): string[] {
  const k = Math.ceil(n / CONNECTIONS_PER_SOURCE_IP);
  if (k > 250 * 256) throw new Error(`N=${n} needs more than one /16 of source addresses`);
  const b = 1 + (block % 250);
  return Array.from({ length: k }, (_, i) => `127.${b}.${Math.floor(i / 250)}.${2 + (i % 250)}`);
}

/** Time when `connected` crossed `level`, linearly interpolated between timeline samples. */
function crossing(timeline: { tMs: number; connected: number }[], level: number): number | null {
  for (let i = 0; i < timeline.length; i++) {
    const b = timeline[i];
    if (b.connected < level) continue;
    const a = i > 0 ? timeline[i - 1] : { tMs: 0, connected: 0 };
    const f = b.connected === a.connected ? 1 : (level - a.connected) / (b.connected - a.connected);
    return a.tMs + f * (b.tMs - a.tMs);
  }
  return null;
}

/** The load client's own processes (children of this process running load-worker.js). */
function clientPids(): number[] {
  return childPids(process.pid).filter((p) => cmdline(p).includes('load-worker'));
}

export async function runScenario(server: ServerName, n: number, rep: number, o: ScenarioOptions, sourceBlock = rep): Promise<RunResult> {
  const processes = serverProcessesFor(n, o.perServerProcess);
  const perProcess = clientPerProcess(n);
  const r: RunResult = {
    server, n, rep, processes, clientProcesses: Math.ceil(n / perProcess), ok: false, failure: null,
    connected: 0, failed: 0, dropped: 0, errors: {}, rampSeconds: null, connectRate: null, memory: null,
    serverCpuSeconds: null, serverCpuUsPerMsg: null, clientCpuSeconds: null, clientCpuUsPerMsg: null,
    broadcastPhaseSeconds: null, expected: 0, delivered: 0, lost: 0, duplicates: 0,
    completionMs: [], completionMedianMs: null, completionMaxMs: null, latencyMs: null,
  };
  let phase = 'start redis';
  let redis: RunningRedis | null = null;
  let srv: RunningServer | null = null;
  let lt: LoadTest | null = null;
  const failures: string[] = [];
  const fail = (msg: string) => failures.push(`${phase}: ${msg}`);
  try {
    redis = await startRedis();
    phase = 'start server';
    srv = await startServer(server, processes, redis.url);
    const s = srv;
    await sleep(o.baselineSettleMs);
    const { rssBytes: rssBefore, ussBytes: ussBefore } = sumProcMemory(s.pids);

    phase = 'ramp';
    const opts: LoadOptions = {
      ...DEFAULTS, urls: [s.url], connections: n, sourceIps: sourceIpsFor(n, sourceBlock), rate: o.rate, maxPending: o.maxPending,
      perProcess, protocol: s.protocol, publishVia: s.publishVia, publishCount: o.broadcasts,
      publishInterval: o.intervalMs / 1000, settle: o.settleMaxMs / 1000, quiet: true, connectTimeoutMs: 10_000, retries: 3,
    };
    const test = (lt = new LoadTest(opts));
    let clientFailure: Error | null = null;
    test.on('failure', (e: Error) => (clientFailure = e));
    await test.start();
    const rampT0 = Date.now();
    const rampTimeoutMs = 60_000 + n; // 1 ms per connection on top of a minute: generous for the slowest peer
    const p = await test.waitConnected(n, rampTimeoutMs);
    r.rampSeconds = (Date.now() - rampT0) / 1000;
    r.connected = p.connected;
    if (p.connected < n) fail(`connected ${p.connected}/${n} after ${r.rampSeconds.toFixed(1)} s (failed ${p.failed}, errors ${p.errors})`);
    const tl = test.timeline;
    const t10 = crossing(tl, 0.1 * n), t90 = crossing(tl, 0.9 * n);
    if (t10 !== null && t90 !== null && t90 > t10) r.connectRate = Math.round((0.8 * n * 1000) / (t90 - t10));
    else if (p.connected >= n) r.connectRate = Math.round(n / Math.max(0.001, r.rampSeconds));
    const rssAfterRamp = sumProcMemory(s.pids).rssBytes;
    o.log(`  ${server} N=${n}: ${p.connected} connected in ${r.rampSeconds.toFixed(1)} s, ~${r.connectRate ?? '?'}/s; idle ${o.idleMs / 1000} s`);

    phase = 'idle';
    await sleep(o.idleMs);
    if (s.died()) throw new Error(`server ${s.died()}`);
    const { rssBytes: rssAfterIdle, ussBytes: ussAfterIdle } = sumProcMemory(s.pids);
    const conns = Math.max(1, test.progress().connected);
    r.memory = {
      rssBefore, rssAfterRamp, rssAfterIdle, ussBefore, ussAfterIdle,
      rssPerConn: Math.round((rssAfterIdle - rssBefore) / conns),
      ussPerConn: Math.round((ussAfterIdle - ussBefore) / conns),
    };

    phase = 'broadcast';
    const cPids = clientPids();
    const cpu0 = sumCpuSeconds(s.pids), ccpu0 = sumCpuSeconds(cPids), t0 = Date.now();
    const connectedNow = test.progress().connected;
    const msgs0 = test.progress().messages;
    for (let i = 1; i <= o.broadcasts; i++) {
      await test.publish(i);
      if (i < o.broadcasts) await sleep(o.intervalMs);
    }
    // Settle: until every connection has every broadcast, or settleMaxMs. The
    // client's counters arrive every 200 ms, hence the short extra wait.
    const want = msgs0 + connectedNow * o.broadcasts;
    const until = Date.now() + o.settleMaxMs;
    while (test.progress().messages < want && Date.now() < until && !clientFailure) await sleep(50);
    await sleep(400);
    r.serverCpuSeconds = sumCpuSeconds(s.pids) - cpu0;
    r.clientCpuSeconds = sumCpuSeconds(cPids) - ccpu0;
    r.broadcastPhaseSeconds = (Date.now() - t0) / 1000;
    if (s.died()) fail(`server ${s.died()}`);

    phase = 'collect';
    const res: LoadResult = await test.collect();
    fillFromResult(r, res, o.broadcasts);
    if (r.delivered > 0) {
      r.serverCpuUsPerMsg = +((r.serverCpuSeconds * 1e6) / r.delivered).toFixed(3);
      r.clientCpuUsPerMsg = +((r.clientCpuSeconds * 1e6) / r.delivered).toFixed(3);
    }
    if (r.lost > 0) fail(`${r.lost} messages lost`);
  } catch (err) {
    fail((err as Error).message);
  } finally {
    phase = 'stop';
    if (lt) await lt.stop().catch((e: Error) => fail(e.message));
    if (srv) await srv.stop().catch((e: Error) => fail(e.message));
    if (redis) await redis.stop().catch((e: Error) => fail(e.message));
  }
  r.failure = failures.length ? failures.join('; ') : null;
  r.ok = failures.length === 0;
  return r;
}

function fillFromResult(r: RunResult, res: LoadResult, broadcasts: number): void {
  r.connected = Math.max(r.connected, res.connections.connected);
  r.failed = res.connections.failed;
  r.dropped = res.connections.dropped;
  r.errors = res.errors;
  r.delivered = res.messages.received;
  r.lost = res.messages.lost;
  r.duplicates = res.messages.duplicates;
  r.expected = r.connected * broadcasts;
  r.completionMs = res.broadcasts.map((b) => (b.completionMs === null ? null : +b.completionMs.toFixed(1)));
  const done = r.completionMs.filter((x): x is number => x !== null);
  r.completionMedianMs = median(done);
  r.completionMaxMs = done.length ? Math.max(...done) : null;
  r.latencyMs = res.latencyMs.count ? { p50: res.latencyMs.p50, p99: res.latencyMs.p99, max: res.latencyMs.max } : null;
}
