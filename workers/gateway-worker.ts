/**
 * One gateway worker: the only place that creates a worker's parts and wires
 * them together. Forked by the primary; never run on its own.
 */
import v8 from 'node:v8';
import { ConnectionAuth } from '../src/auth/connection-auth';
import type { Broker, BrokerHandlers, BrokerMessage } from '../src/broker/broker';
import { HistoryRules } from '../src/broker/history-rules';
import { LocalBrokerClient } from '../src/broker/local-broker';
import { RedisBroker } from '../src/broker/redis/redis-broker';
import { redisEndpoint } from '../src/broker/redis/redis-connections';
import { connectionCapacity, countOpenFds, readOpenFileLimit } from '../src/capacity/fd-limits';
import { FdGuard } from '../src/capacity/fd-guard';
import { loadConfig, type HeraldConfig } from '../src/config';
import { Hub } from '../src/hub/hub';
import type { ToPrimary, ToWorker } from '../src/lifecycle/ipc';
import { createLogger, type Logger } from '../src/logger';
import type { MetricsJson } from '../src/metrics/worker-metrics';
import { TrafficSummary } from '../src/metrics/traffic-summary';
import { newWorkerStats, type WorkerStats } from '../src/metrics/worker-stats';
import { AddressSet } from '../src/net/ip-address';
import { loadNativeUws } from '../src/native-uws';
import { TopicPatterns } from '../src/protocol/topic-patterns';
import { drainRate } from '../src/runtime/drain-rate';
import type { DrainMode } from '../src/runtime/drain-mode';
import { IpcDispatcher } from '../src/runtime/ipc-dispatcher';
import { QuietCollector } from '../src/runtime/quiet-collector';
import { SampledLog } from '../src/runtime/sampled-log';
import { ShutdownList } from '../src/runtime/shutdown-list';
import type { ConnectionObserver } from '../src/transport/connection-data';
import { ConnectionRegistry } from '../src/transport/connection-registry';
import { createApp, scheme } from '../src/transport/create-app';
import { createGateway, type TrafficEvent } from '../src/transport/gateway-app';
import { IpLimiter } from '../src/transport/ip-limiter';
import { SlowConsumerSweep } from '../src/transport/slow-consumer-sweep';

const workerId = Number(process.env.HERALD_WORKER_ID ?? 0);

function send(msg: ToPrimary): void {
  // Once the primary is gone a send would fail with an 'error' event that ends the process.
  if (process.connected) process.send?.(msg);
}

/** The worker's broker: the primary over IPC (local), or Redis. */
function openBroker(config: HeraldConfig, handlers: BrokerHandlers, ipc: IpcDispatcher<ToWorker>, log: Logger): Broker {
  const rules = new HistoryRules(config.history.rules);
  if (config.broker === 'redis') {
    return new RedisBroker({ ...redisEndpoint(config.redis), prefix: config.redis.prefix, rules, loadFunction: false, log, handlers });
  }
  const broker = new LocalBrokerClient(rules, send, handlers);
  const receive = (msg: ToWorker & { type: `broker:${string}` }) => void broker.receive(msg);
  ipc.on('broker:message', receive).on('broker:published', receive).on('broker:page', receive);
  process.once('disconnect', () => broker.disconnected());
  return broker;
}

/** prom-client (about 1.5 MB of heap and an event-loop probe every 20 ms) starts at the first scrape:
 * most deployments never scrape, and 60 idle workers would pay for it all the time. */
function lazyMetrics(stats: WorkerStats): () => Promise<MetricsJson> {
  let metrics: Promise<() => Promise<MetricsJson>> | undefined;
  return async () => {
    metrics ??= import('../src/metrics/worker-metrics').then(async ({ createWorkerMetrics }) => {
      const collect = createWorkerMetrics(stats);
      await new Promise((resolve) => setTimeout(resolve, 100)); // lets the event-loop probe take samples
      return collect;
    });
    return (await metrics)();
  };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, { notice: () => {} }); // the primary has told of a missing config file
  const log = createLogger(config.log.level, 'worker', workerId);
  const uws = loadNativeUws();
  const shutdown = new ShutdownList(log);
  const ipc = new IpcDispatcher<ToWorker>((msg) => log.warn({ msg }, 'unknown IPC message'));
  process.on('message', (msg: unknown) => ipc.dispatch(msg));
  const stats = newWorkerStats(workerId);

  const app = createApp(uws, config.tls);
  const traffic = SampledLog.create<TrafficEvent>(log.child({ component: 'traffic' }), config.log.eventsPerSecond);
  const summary = new TrafficSummary(stats, log.child({ component: 'traffic' }), config.log.summaryIntervalSeconds);
  summary.start();
  shutdown.add('traffic summary', () => summary.stop());
  const registry = new ConnectionRegistry();
  const sweep = new SlowConsumerSweep(registry, config.slowConsumer, stats, log.child({ component: 'slow-consumers' }));
  shutdown.add('slow-consumer sweep', () => sweep.stop());

  const auth = ConnectionAuth.create(config, stats);
  if (auth) shutdown.add('token expiry sweeper', () => auth.stop());

  const brokerLog = log.child({ component: 'broker' });
  const presencePatterns = new TopicPatterns(config.presence.topics);
  const hub = new Hub({
    sink: app,
    stats,
    log: log.child({ component: 'hub' }),
    readCacheMs: config.history.readCacheMs,
    onSent: () => sweep.noteFanout(),
    ...(traffic ? { onMessage: (m: BrokerMessage, sockets: number) => traffic.event('message', { topic: m.topic, seq: m.seq, bytes: m.payload.byteLength, sockets }, 'message') } : {}),
    onBrokerState: (state, detail) => brokerLog[state === 'connected' || state === 'closed' ? 'info' : 'warn']({ state, detail }, `broker ${state}`),
    openBroker: (handlers) => openBroker(config, handlers, ipc, brokerLog),
    maxTopics: config.topics.maxPerConnection,
    auth: auth && { verify: (token) => auth.verifyToken(token), refreshed: (ws, identity) => auth.refreshed(ws, identity) },
    presence: { patterns: presencePatterns, flushMs: config.presence.flushMs, report: (updates) => send({ type: 'presence', pid: process.pid, updates }) },
  });
  shutdown.add('hub and broker', () => hub.close());
  // Not awaited: with Redis down the worker still starts, and the subscription follows when Redis is back.
  hub.start().catch((err: Error) => brokerLog.warn({ err: err.message }, 'subscribing to broadcast failed'));

  const ipLimiter = IpLimiter.fromConfig(config.limits.perIp);
  if (ipLimiter) shutdown.add('per-IP limiter', () => ipLimiter.stop());

  const limit = readOpenFileLimit();
  const capacity = connectionCapacity({
    softLimit: limit.soft,
    fdsInUse: countOpenFds() + 8, // the broker's sockets and uWS's own descriptors
    reserve: config.capacity.fdReserve,
    configuredMax: config.capacity.maxConnectionsPerWorker,
  });
  const observers: ConnectionObserver[] = [registry, ...(auth ? [auth] : []), ...(hub.users ? [hub.users] : []), ...(ipLimiter ? [ipLimiter] : [])];
  const addresses = { trusted: new AddressSet(config.proxies.trusted), proxyProtocol: config.proxies.proxyProtocol };
  const gateway = createGateway({ uws, app, config, log: log.child({ component: 'gateway' }), stats, hub, registry, capacity, auth, ipLimiter, observers, addresses, traffic });

  // Set by whoever stops the worker, read by the drain step of the shutdown list.
  let drainPlan: { mode: DrainMode; perSecond: number } = { mode: 'shutdown', perSecond: config.shutdown.closeRatePerSecond };
  const drainBudgetMs = (config.shutdown.timeoutSeconds + Math.max(config.shutdown.drainWindowSeconds, config.restart.drainWindowSeconds)) * 1000;
  shutdown.add('connections', () => gateway.drain(drainPlan.mode, drainPlan.perSecond), drainBudgetMs);

  const port = await gateway.listen();
  const guard = new FdGuard({ gateway, stats, limit: limit.soft, reserve: config.capacity.fdReserve, log });
  guard.start();
  shutdown.add('fd guard', () => guard.stop());
  startQuietCollector(config.quietCollectSeconds, stats, shutdown, log);
  log.info({ port, scheme: scheme(config.tls), capacity, nofile: limit.soft }, 'worker listening');
  send({ type: 'listening', port, capacity });

  let stopping = false;
  const stop = async (mode: DrainMode, windowSeconds: number) => {
    if (stopping) return;
    stopping = true;
    drainPlan = { mode, perSecond: drainRate(stats.connections, windowSeconds, config.shutdown.closeRatePerSecond) };
    await shutdown.close();
    log.info('worker stopped');
    log.flush();
    process.exit(0);
  };

  const collectMetrics = lazyMetrics(stats);
  const refreshStats = () => {
    const mem = process.memoryUsage();
    stats.rssBytes = mem.rss;
    stats.heapUsedBytes = mem.heapUsed;
    stats.brokerState = hub.broker.state;
    stats.brokerReconnects = hub.broker.reconnects;
  };
  ipc
    .on('stats-request', (msg) => {
      refreshStats();
      send({ type: 'stats', id: msg.id, stats });
    })
    .on('metrics-request', (msg) => {
      refreshStats();
      collectMetrics().then(
        (json) => send({ type: 'metrics', id: msg.id, metrics: json }),
        (err: Error) => log.error({ err: err.message }, 'metrics collection failed'),
      );
    })
    .on('drain', (msg) => void stop(msg.mode, msg.windowSeconds));
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches the whole process group.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  // Primary gone (killed or crashed): drain with 1001 at the usual pace and leave, rather than run orphaned.
  process.on('disconnect', () => {
    if (stopping) return;
    log.warn({ connections: stats.connections }, 'primary gone: draining and leaving');
    void stop('shutdown', config.shutdown.drainWindowSeconds);
  });
}

main().catch((err: Error) => {
  const message = `${err.name}: ${err.message}`;
  process.stderr.write(`herald worker ${workerId}: ${message}\n`);
  send({ type: 'fatal', message });
  // Give the IPC message a moment to leave before exiting.
  setTimeout(() => process.exit(78), 100);
});

/** The quiet-time heap collection (config quietCollectSeconds); the primary forks workers with --expose-gc for it. */
function startQuietCollector(seconds: number, stats: WorkerStats, shutdown: ShutdownList, log: Logger): void {
  if (seconds === 0) return;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return void log.warn('quietCollectSeconds is set but this worker has no gc() (not started with --expose-gc): no quiet collection');
  const collector = new QuietCollector({
    // Changes on every open (accepted +1 counts twice, connections +1) and every close (connections -1).
    churn: () => stats.upgradesAccepted * 2 - stats.connections,
    heapUsed: () => v8.getHeapStatistics().used_heap_size,
    // Twice: the second collection releases the pages the first one emptied (measured: heap committed
    // 8.5 -> 5.5 MB and RSS 3.5 MB lower than after one, for ~6 ms more).
    collect: () => {
      gc();
      gc();
    },
    quietMs: seconds * 1000,
    log,
  });
  shutdown.add('quiet collector', collector.start());
}
