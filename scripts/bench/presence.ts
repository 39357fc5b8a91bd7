/**
 * What presence costs, with the Redis broker:
 *   node --expose-gc dist/scripts/bench/presence.js [--connections 10000] [--rate 2000] ...
 *
 * For presence off and on (a fresh herald and Redis each; connection i is user
 * u<i> on room:<i mod rooms>, every room tracked when on): memory per
 * connection (workers, and the primary, which holds the herald's table), then
 * subscribe/unsubscribe churn on tracked rooms at a steady rate with the Redis
 * commands it caused (INFO commandstats) and the CPU of herald and Redis;
 * with presence on, GET /presence latency and the total over all rooms.
 *
 * Prints the figures and writes docs/benchmarks/presence-<N>-<date>.json.
 */
import Redis from 'ioredis';
import { startHerald, startRedis, type RunningHerald } from './lib/c1m-procs';
import { CommandFleet, type ChurnFigures } from './lib/command-fleet';
import { cpuWindow, type CpuFigures } from './lib/cpu-window';
import { log, parseOptions, runBench, writeResult } from './lib/small-bench';
import { sleep } from './lib/process-groups';
import { sumProcMemory } from './lib/proc-stats';
import { PresenceTracker, type PresenceUpdate } from '../../src/hub/presence-tracker';
import { PresenceTable } from '../../src/presence/presence-table';
import { TopicPatterns } from '../../src/protocol/topic-patterns';

const USAGE = `usage: node dist/scripts/bench/presence.js [options]
  --connections N   connections, each a distinct user (default 10000)
  --rooms R         tracked rooms the connections are spread over (default 100)
  --workers W       herald workers (default 2)
  --rate C          subscribe/unsubscribe commands per second on tracked rooms (default 2000)
  --seconds S       length of the churn (default 10)
  --flush-ms F      presence.flushMs (default 1000)
  --out DIR         where the dated JSON goes (default docs/benchmarks)`;

const DEFAULTS = { connections: 10_000, rooms: 100, workers: 2, rate: 2000, seconds: 10, flushMs: 1000, out: 'docs/benchmarks' };
const SECRET = 'bench-secret-of-at-least-32-bytes!!';
const API_KEY = 'bench-key';

async function commandCounts(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

interface Phase {
  presence: boolean;
  connections: number;
  workerPssPerConnection: number;
  primaryPssPerConnection: number;
  churn: ChurnFigures;
  cpu: CpuFigures;
  redisCommands: Record<string, number>;
  presenceQuery?: { ms: number[]; totalConnections: number };
}

async function phase(presence: boolean, o: typeof DEFAULTS): Promise<Phase> {
  const redis = await startRedis();
  const env: Record<string, string> = { HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: SECRET, HERALD_API_KEY: API_KEY, HERALD_PRESENCE_FLUSH_MS: String(o.flushMs) };
  if (presence) env.HERALD_PRESENCE_TOPICS = 'room:*';
  const herald: RunningHerald = await startHerald({ workers: o.workers, redisUrl: redis.url, nodeFlags: [], env, readyTimeoutMs: 30_000 });
  const fleet = new CommandFleet();
  const probe = new Redis(redis.url);
  try {
    await sleep(3000);
    const workers0 = sumProcMemory(herald.workerPids);
    const primary0 = sumProcMemory([herald.primaryPid]);
    const opened = await fleet.open({ url: herald.url, connections: o.connections, mode: 'command', rooms: o.rooms, secret: SECRET, users: o.connections });
    log(`presence ${presence ? 'on' : 'off'}: ${opened.connections} connected (${opened.errors} errors, ${opened.joinErrors} join errors)`);
    await sleep(3000 + 2 * o.flushMs);
    const workers1 = sumProcMemory(herald.workerPids);
    const primary1 = sumProcMemory([herald.primaryPid]);
    const before = await commandCounts(probe);
    const cpu = cpuWindow({ herald: [herald.primaryPid, ...herald.workerPids], redis: [redis.pid], clients: fleet.pids });
    // Extra rooms are tracked too (room:*) but never a connection's own room: every connection ends where it began.
    const churn = await fleet.churn(o.rate, o.seconds, opened.connections, o.rooms, 'room:x');
    await sleep(2 * o.flushMs); // the last batches
    const used = cpu.stop();
    const redisCommands = delta(await commandCounts(probe), before);
    delete redisCommands.info;
    const result: Phase = {
      presence,
      connections: opened.connections,
      workerPssPerConnection: (workers1.pssBytes - workers0.pssBytes) / opened.connections,
      primaryPssPerConnection: (primary1.pssBytes - primary0.pssBytes) / opened.connections,
      churn,
      cpu: used,
      redisCommands,
    };
    if (presence) {
      const ms: number[] = [];
      let total = 0;
      await sleep(2 * o.flushMs);
      for (let r = 0; r < o.rooms; r++) {
        const t = performance.now();
        const res = await fetch(`${herald.adminUrl}/presence?topic=room:${r}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
        ms.push(performance.now() - t);
        total += ((await res.json()) as { connections: number }).connections;
      }
      result.presenceQuery = { ms: ms.sort((a, b) => a - b), totalConnections: total };
    }
    return result;
  } finally {
    probe.disconnect();
    fleet.close();
    await herald.stop(10_000);
    await redis.stop();
  }
}

/** Heap bytes per (topic, user) of the worker's tracker and the primary's table, measured in this process (needs --expose-gc). */
function structureCost(pairs: number, rooms: number): { tracker: number; table: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const tracker = new PresenceTracker(new TopicPatterns(['room:*']), 60_000, () => {});
  const subs = Array.from({ length: pairs }, (_, i) => `u${i}`); // the subs exist anyway (user data)
  const h0 = heap();
  for (let i = 0; i < pairs; i++) tracker.onSubscription(subs[i], `room:${i % rooms}`, 1, 0);
  tracker.flush();
  const h1 = heap();
  const table = new PresenceTable();
  for (let from = 0; from < pairs; from += 1000) {
    const batch: PresenceUpdate[] = [];
    for (let i = from; i < Math.min(pairs, from + 1000); i++) batch.push([`room:${i % rooms}`, subs[i], 1]);
    table.apply(1, batch);
  }
  const h2 = heap();
  tracker.stop();
  if (table.count('room:0').connections === 0) throw new Error('table empty');
  return { tracker: (h1 - h0) / pairs, table: (h2 - h1) / pairs };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), DEFAULTS, USAGE);
  await runBench('presence', 300 + o.connections / 200 + 2 * o.seconds, async () => {
    const phases = [await phase(false, o), await phase(true, o)];
    const out = process.stdout;
    out.write(`\npresence benchmark: ${o.connections} connections (one user each) on ${o.rooms} rooms, ${o.workers} workers, Redis broker, flush ${o.flushMs} ms; churn ${o.rate}/s for ${o.seconds} s\n`);
    out.write('presence | worker PSS B/conn | primary PSS B/conn | commands | replies | herald CPU s | redis CPU s | redis commands (per churn command)\n');
    for (const p of phases) {
      const heraldCpu = p.cpu.groups.herald.user + p.cpu.groups.herald.sys;
      const redisCpu = p.cpu.groups.redis.user + p.cpu.groups.redis.sys;
      const total = Object.values(p.redisCommands).reduce((a, b) => a + b, 0);
      out.write(`${(p.presence ? 'on' : 'off').padEnd(8)} | ${p.workerPssPerConnection.toFixed(0).padStart(17)} | ${p.primaryPssPerConnection.toFixed(0).padStart(18)} | ${String(p.churn.sent).padStart(8)} | ${String(p.churn.replies).padStart(7)} | ${heraldCpu.toFixed(2).padStart(12)} | ${redisCpu.toFixed(2).padStart(11)} | ${total} (${(total / Math.max(1, p.churn.sent)).toFixed(3)}): ${JSON.stringify(p.redisCommands)}\n`);
    }
    const q = phases[1].presenceQuery!;
    out.write(`GET /presence over ${o.rooms} rooms: p50 ${q.ms[Math.floor(q.ms.length / 2)].toFixed(2)} ms, max ${q.ms.at(-1)!.toFixed(2)} ms; connections summed over rooms ${q.totalConnections} (expected ${phases[1].connections})\n`);
    const heap = structureCost(o.connections, o.rooms);
    if (heap) out.write(`in-process heap per tracked (topic, user): worker tracker ${heap.tracker.toFixed(0)} B, primary table ${heap.table.toFixed(0)} B (${o.connections} pairs)\n`);
    else out.write('(run with node --expose-gc for the in-process heap per tracked (topic, user))\n');
    out.write(`\nwrote ${writeResult(o.out, `presence-${o.connections}`, { date: new Date().toISOString(), options: o, phases })}\n`);
  });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`presence benchmark failed: ${err.message}`);
    process.exit(1);
  },
);
