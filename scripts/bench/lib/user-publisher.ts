/**
 * The per-user benchmark's publisher process (forked by ../users.ts): pushes
 * messages to random users at a fixed rate, as an application backend would,
 * straight to Redis: PUBLISH herald:user:<i> on one Redis, SPUBLISH through a
 * cluster client on a Redis Cluster (it sends each to the master of the
 * channel's slot). Each payload is {"t":<µs, stamped just before publishing>,
 * "u":<i>,"pad":"..."}: the load client takes the latency from "t" and checks
 * that "u" is the connection's own index.
 *
 * Redis answers each publish with the number of subscribers that took it (one
 * herald worker for a connected user), so the sum of the answers is how many
 * deliveries herald owes: the benchmark's lost count is that sum minus what
 * the connections received.
 *
 * IPC: `run` -> `done` with the counts; the process leaves when its parent does.
 */
import Redis, { Cluster } from 'ioredis';
import { nowUs } from '../../loadtest/client-stats';

export interface PublisherConfig {
  /** redis://host:port, or the cluster's nodes */
  url?: string;
  clusterNodes?: string[];
  prefix: string;
}

export type ToPublisher = { type: 'run'; rate: number; seconds: number; users: number; payloadBytes: number; id: number };

export interface PublishCounts {
  /** publishes sent */
  sent: number;
  /** Redis answered: sum of the receivers it reported */
  owed: number;
  /** publishes no subscriber took (the user is not connected) */
  unroutable: number;
  errors: number;
  firstError: string | null;
  /** sent / seconds actually taken */
  achievedRate: number;
}

export type FromPublisher = { type: 'ready' } | { type: 'done'; id: number; counts: PublishCounts } | { type: 'fatal'; error: string };

/** Publishes in flight beyond this mean Redis (or this process) cannot keep up: the run stops sending and says so. */
const MAX_IN_FLIGHT = 200_000;
const TICK_MS = 5;

function send(m: FromPublisher): void {
  if (process.connected) process.send!(m);
}

function open(config: PublisherConfig): Redis | Cluster {
  if (config.clusterNodes) {
    const nodes = config.clusterNodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) }));
    return new Cluster(nodes, { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 0 } });
  }
  return new Redis(config.url!, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
}

async function runOnce(redis: Redis | Cluster, config: PublisherConfig, m: ToPublisher): Promise<PublishCounts> {
  const counts: PublishCounts = { sent: 0, owed: 0, unroutable: 0, errors: 0, firstError: null, achievedRate: 0 };
  const pad = 'x'.repeat(Math.max(0, m.payloadBytes - 40));
  const spublish = redis instanceof Cluster;
  let inFlight = 0;
  const started = Date.now();
  const end = started + m.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = Date.now();
      if (now >= end) return resolve();
      // Behind by more than a second (this process or Redis too slow): that second is not sent; achievedRate shows it.
      const due = Math.min(Math.floor((m.rate * (now - started)) / 1000), counts.sent + m.rate);
      while (counts.sent < due && inFlight < MAX_IN_FLIGHT) {
        const user = Math.floor(Math.random() * m.users);
        const channel = `${config.prefix}user:${user}`;
        const payload = `{"t":${nowUs()},"u":${user},"pad":"${pad}"}`;
        counts.sent++;
        inFlight++;
        const sent = (spublish ? (redis as Cluster).spublish(channel, payload) : redis.publish(channel, payload)) as Promise<number>;
        sent.then(
          (receivers) => {
            inFlight--;
            counts.owed += receivers;
            if (receivers === 0) counts.unroutable++;
          },
          (err: Error) => {
            inFlight--;
            counts.errors++;
            counts.firstError ??= err.message;
          },
        );
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const seconds = (Date.now() - started) / 1000;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  counts.achievedRate = Math.floor(counts.sent / seconds);
  return counts;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.HERALD_BENCH_PUBLISHER ?? '{}') as PublisherConfig;
  const redis = open(config);
  redis.on('error', () => undefined); // a failed publish is counted where it fails
  await (redis instanceof Cluster ? new Promise((r) => redis.once('ready', r)) : redis.ping());
  process.on('message', (m: ToPublisher) => {
    runOnce(redis, config, m).then(
      (counts) => send({ type: 'done', id: m.id, counts }),
      (err: Error) => send({ type: 'fatal', error: err.message }),
    );
  });
  send({ type: 'ready' });
}

// Never outlive the benchmark.
process.on('disconnect', () => process.exit(0));
main().catch((err: Error) => {
  send({ type: 'fatal', error: err.message });
  process.exit(1);
});
