/**
 * The per-user benchmark's result record and its markdown: one column per
 * Redis setup (one Redis, a K-shard cluster), side by side. Figures are
 * printed as measured (truncated, never rounded up).
 */
import type { CpuFigures } from './cpu-window';
import type { Machine } from './c1m-report';

export type RedisSetup = 'standalone' | 'cluster';

export interface ConnectFigures {
  /** broadcast only, or each connection also on its own user:<i> topic */
  privateTopic: boolean;
  connections: number;
  connected: number;
  failed: number;
  /** from the first connect until all were open, and until Redis held every user channel */
  connectSeconds: number;
  subscribedSeconds: number;
  connectsPerSecond: number;
  heraldCpuMicrosPerConnect: number;
  /** every Redis command counted in INFO commandstats during the ramp (herald's PING probes included), per connect */
  redisCommandsPerConnect: number;
  /** SUBSCRIBE or SSUBSCRIBE commands per connect */
  subscribeCommandsPerConnect: number;
  heraldRssBytesPerConnection: number;
  redisMemoryBytesPerConnection: number;
}

export interface RunFigures {
  targetRate: number;
  seconds: number;
  sent: number;
  achievedRate: number;
  /** deliveries Redis counted (its answers to the publishes) */
  owed: number;
  received: number;
  lost: number;
  misdelivered: number;
  /** publishes no herald worker held the user for */
  unroutable: number;
  publishErrors: number;
  firstPublishError: string | null;
  deliveredPerSecond: number;
  latencyMs: { count: number; p50: number; p99: number; max: number };
  /** CPU cores used on average (CPU seconds / wall seconds) by herald, each Redis node, the load clients and the publisher */
  cores: Record<string, number>;
  cpu: CpuFigures;
}

export interface SetupResult {
  setup: RedisSetup;
  redisNodes: string[];
  herald: { workers: number; command: string } | null;
  connect: { broadcastOnly: ConnectFigures | null; privateTopic: ConnectFigures | null };
  /** one broadcast to everyone before the runs: every connection holds broadcast too */
  broadcastCheck: { expected: number; received: number } | null;
  run: RunFigures | null;
  /** cappedAt: the search reached --search-max without crossing the limit */
  search: { p99LimitMs: number; steps: RunFigures[]; best: RunFigures | null; cappedAt: number | null } | null;
  failure: string | null;
}

export interface UsersResult {
  command: string;
  date: string;
  machine: Machine;
  ok: boolean;
  failure: string | null;
  options: Record<string, unknown>;
  setups: SetupResult[];
  durationMs: number;
}

const int = (x: number): string => Math.trunc(x).toLocaleString('en-US');
const dec = (x: number, d = 2): string => (Math.trunc(x * 10 ** d) / 10 ** d).toFixed(d);
const dash = '-';

function setupName(s: SetupResult): string {
  return s.setup === 'standalone' ? 'one Redis' : `Redis Cluster, ${s.redisNodes.length} shards`;
}

function redisCores(r: RunFigures, s: SetupResult): string {
  return s.redisNodes.map((n) => dec(r.cores[`redis ${n}`] ?? 0)).join(' / ');
}

function runRows(runs: (RunFigures | null)[], setups: SetupResult[]): string[][] {
  const cell = (f: (r: RunFigures, s: SetupResult) => string) => runs.map((r, i) => (r ? f(r, setups[i]) : dash));
  return [
    ['publish rate: target / achieved (msg/s)', ...cell((r) => `${int(r.targetRate)} / ${int(r.achievedRate)}`)],
    ['delivered messages/s', ...cell((r) => int(r.deliveredPerSecond))],
    ['latency p50 / p99 / max (ms, stamped before publish)', ...cell((r) => `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max}`)],
    ['lost / misdelivered (of deliveries Redis counted)', ...cell((r) => `${int(r.lost)} / ${int(r.misdelivered)} of ${int(r.owed)}`)],
    ['herald CPU (cores)', ...cell((r) => dec(r.cores.herald ?? 0))],
    ['Redis CPU per shard (cores)', ...cell(redisCores)],
    ['publisher / load clients CPU (cores)', ...cell((r) => `${dec(r.cores.publisher ?? 0)} / ${dec(r.cores.clients ?? 0)}`)],
  ];
}

function connectRows(setups: SetupResult[]): string[][] {
  const both = (f: (c: ConnectFigures) => string) =>
    setups.map((s) => `${s.connect.privateTopic ? f(s.connect.privateTopic) : dash} (${s.connect.broadcastOnly ? f(s.connect.broadcastOnly) : dash})`);
  return [
    ['connections open (private topic)', ...setups.map((s) => (s.connect.privateTopic ? `${int(s.connect.privateTopic.connected)} of ${int(s.connect.privateTopic.connections)}` : dash))],
    ['connects/s: private topic (broadcast only)', ...both((c) => int(c.connectsPerSecond))],
    ['herald CPU per connect, µs', ...both((c) => int(c.heraldCpuMicrosPerConnect))],
    ['(S)SUBSCRIBE commands per connect', ...both((c) => dec(c.subscribeCommandsPerConnect, 3))],
    ['all Redis commands per connect', ...both((c) => dec(c.redisCommandsPerConnect, 3))],
    ['herald RSS per connection, bytes', ...both((c) => int(c.heraldRssBytesPerConnection))],
    ['Redis memory per connection, bytes', ...both((c) => int(c.redisMemoryBytesPerConnection))],
  ];
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function markdown(r: UsersResult): string {
  const head = ['', ...r.setups.map(setupName)];
  const out = [
    `# bench:users, ${r.date}`,
    '',
    `\`${r.command}\``,
    '',
    `Machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${Math.trunc(r.machine.memTotalBytes / 2 ** 30)} GiB, Linux ${r.machine.kernel}, Node ${r.machine.node}. Result: ${r.ok ? 'complete' : `FAILED: ${r.failure}`}.`,
    '',
    '## Connecting',
    '',
    table(head, connectRows(r.setups)),
    '',
    `## Per-user messages at a fixed rate (${r.options.rate} msg/s to random users for ${r.options.duration} s)`,
    '',
    table(head, runRows(r.setups.map((s) => s.run), r.setups)),
  ];
  const searched = r.setups.filter((s) => s.search);
  if (searched.length > 0) {
    out.push('', `## Highest rate with p99 under ${searched[0].search!.p99LimitMs} ms`, '', table(head, runRows(r.setups.map((s) => s.search?.best ?? null), r.setups)));
    for (const s of searched) {
      const capped = s.search!.cappedAt === null ? '' : ` The limit was not crossed up to --search-max ${int(s.search!.cappedAt)}/s.`;
      out.push('', `Steps on ${setupName(s)} (${s.search!.steps[0]?.seconds ?? 0} s each): ` + s.search!.steps.map((x) => `${int(x.targetRate)}/s -> p99 ${x.latencyMs.p99} ms, achieved ${int(x.achievedRate)}/s, lost ${int(x.lost)}`).join('; ') + '.' + capped);
    }
  }
  for (const s of r.setups) if (s.failure) out.push('', `${setupName(s)}: ${s.failure}`);
  out.push('', 'herald command: ' + r.setups.map((s) => `\`${s.herald?.command ?? dash}\``).join(', then '), '');
  return out.join('\n');
}
