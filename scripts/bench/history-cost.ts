/**
 * Live broadcast cost with history on versus off, side by side in one run:
 *   node dist/scripts/bench/history-cost.js [--clients 2000] [--messages 2000] [--workers 2] [--envelope]
 * One herald (Redis broker) and one private redis-server. Half the clients listen
 * to "plain" (no history), half to "hist" (history rule), all raw mode (or all
 * envelope with --envelope). Each phase publishes M messages through the admin
 * API, waits until every client has all of them, and prints wall time, publish
 * latency and the CPU used by herald (primary + workers) and redis-server.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { HeraldProcess } from '../harness/herald-process';
import { waitFor } from '../harness/ports';
import { RedisServer } from '../harness/redis-server';
import { closeAll, connectMany, type Client } from '../harness/ws-clients';

const TICK_MS = 1000 / 100; // USER_HZ

function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) total += treeCpuMs(Number(child));
  }
  return total;
}

function redisPid(port: number): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('redis-server') && cmd.includes(`:${port}`)) return Number(entry);
    } catch {
      /* process gone */
    }
  }
  throw new Error(`redis-server on ${port} not found`);
}

async function phase(name: string, herald: HeraldProcess, redisServerPid: number, topic: string, clients: Client[], messages: number) {
  for (const c of clients) c.messages.length = 0;
  const heraldCpu0 = treeCpuMs(herald.child.pid!);
  const redisCpu0 = cpuMs(redisServerPid);
  const started = performance.now();
  let publishMs = 0;
  for (let i = 0; i < messages; i++) {
    const t = performance.now();
    const res = await herald.publish(topic, `{"i":${i},"pad":"${'x'.repeat(64)}"}`);
    publishMs += performance.now() - t;
    if (res.status !== 202) throw new Error(`publish answered ${res.status}`);
  }
  process.stderr.write(`${name} (${topic}): published ${messages}\n`);
  await waitFor(`${name}: all delivered`, () => clients.every((c) => c.messages.length >= messages), 120_000, 20);
  const wallMs = performance.now() - started;
  const heraldCpu = treeCpuMs(herald.child.pid!) - heraldCpu0;
  const redisCpu = cpuMs(redisServerPid) - redisCpu0;
  return { name, topic, clients: clients.length, messages, wallMs, publishMsAvg: publishMs / messages, heraldCpuMs: heraldCpu, redisCpuMs: redisCpu, deliveries: clients.length * messages };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clients: { type: 'string', default: '2000' }, messages: { type: 'string', default: '2000' }, workers: { type: 'string', default: '2' }, envelope: { type: 'boolean', default: false }, rounds: { type: 'string', default: '2' } } });
  const n = Number(values.clients);
  const m = Number(values.messages);
  const redis = await new RedisServer().start();
  process.stderr.write(`redis on ${redis.port}\n`);
  const herald = await new HeraldProcess({
    env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_WORKERS: values.workers!, HERALD_HISTORY: 'hist=10000/300', HERALD_LOG_LEVEL: 'warn' },
  }).start();
  const fmt = values.envelope ? '&format=envelope' : '';
  const plain = await connectMany(`${herald.wsUrl}?topics=plain${fmt}`, n / 2);
  const hist = await connectMany(`${herald.wsUrl}?topics=hist${fmt}`, n / 2);
  const rpid = redisPid(redis.port);
  const rows = [];
  try {
    await phase('warm-up', herald, rpid, 'plain', plain, 200);
    await phase('warm-up', herald, rpid, 'hist', hist, 200);
    // Alternate so drift (JIT, GC, page cache) does not favour one side.
    for (let r = 0; r < Number(values.rounds); r++) {
      rows.push(await phase('history off', herald, rpid, 'plain', plain, m));
      rows.push(await phase('history on', herald, rpid, 'hist', hist, m));
    }
  } finally {
    closeAll([...plain, ...hist]);
    await herald.stop();
    await redis.stop();
  }
  process.stdout.write(`history-cost: ${n / 2} ${values.envelope ? 'envelope' : 'raw'} clients per topic, ${m} publishes per phase via POST /publish, ${values.workers} workers\n`);
  process.stdout.write('phase        | wall ms | msg/s  | publish ms avg | herald CPU ms | CPU µs/msg | redis CPU ms\n');
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(12)} | ${r.wallMs.toFixed(0).padStart(7)} | ${((r.messages / r.wallMs) * 1000).toFixed(0).padStart(6)} | ${r.publishMsAvg.toFixed(3).padStart(14)} | ${r.heraldCpuMs.toFixed(0).padStart(13)} | ${((r.heraldCpuMs * 1000) / r.messages).toFixed(0).padStart(10)} | ${r.redisCpuMs.toFixed(0).padStart(12)}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`history-cost failed: ${err.message}\n`);
    process.exit(1);
  },
);
