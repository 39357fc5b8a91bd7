/**
 * One gateway worker: the only place that creates a worker's parts and wires
 * them together. Forked by the primary; never run on its own.
 */
import { LocalSubscriber } from '../src/broker/local-broker';
import { RedisSubscriber } from '../src/broker/redis-subscriber';
import type { BrokerSubscriber, MessageHandler } from '../src/broker/broker';
import { connectionCapacity, countOpenFds, readOpenFileLimit } from '../src/capacity/fd-limits';
import { loadConfig } from '../src/config';
import { Fanout } from '../src/hub/fanout';
import { newWorkerStats } from '../src/hub/worker-stats';
import { isToWorker, type ToPrimary } from '../src/lifecycle/ipc';
import { createLogger } from '../src/logger';
import { loadNativeUws } from '../src/native-uws';
import { CloseCode } from '../src/protocol/close-codes';
import { BROADCAST_TOPIC } from '../src/protocol/topics';
import { createGateway } from '../src/transport/gateway-app';
import { FdGuard } from '../src/capacity/fd-guard';
import { createWorkerHistory, type WorkerHistory } from '../src/history/worker-history';
import { ConnectionAuth } from '../src/auth/connection-auth';
import { drainRate } from '../src/lifecycle/drain-rate';
import type { MetricsJson } from '../src/metrics/worker-metrics';

const workerId = Number(process.env.HERALD_WORKER_ID ?? 0);

function send(msg: ToPrimary): void {
  // Once the primary is gone a send would fail with an 'error' event that ends the process.
  if (process.connected) process.send?.(msg);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.log.level, 'worker', workerId);
  const uws = loadNativeUws();
  const stats = newWorkerStats(workerId);
  // prom-client (about 1.5 MB of heap and an event-loop probe every 20 ms) starts at the first scrape:
  // most deployments never scrape, and 60 idle workers would pay for it all the time.
  let metrics: Promise<() => Promise<MetricsJson>> | undefined;
  const collectMetrics = async () => {
    metrics ??= import('../src/metrics/worker-metrics').then(async ({ createWorkerMetrics }) => {
      const collect = createWorkerMetrics(stats);
      await new Promise((resolve) => setTimeout(resolve, 100)); // lets the event-loop probe take samples
      return collect;
    });
    return (await metrics)();
  };

  let fanout: Fanout | undefined;
  let history: WorkerHistory | undefined;
  // A message that trips a bug is logged and dropped: thrown from here it would end the worker and all its connections.
  const onMessage: MessageHandler = (topic, payload) => {
    try {
      fanout?.deliver(topic, payload);
    } catch (err) {
      log.error({ topic, bytes: payload.length, err: (err as Error).stack ?? String(err) }, 'message delivery failed; dropped');
    }
  };
  const brokerLog = log.child({ component: 'broker' });
  const subscriber: BrokerSubscriber =
    config.broker === 'redis'
      ? new RedisSubscriber(config.redis.url, config.redis.prefix, onMessage, (state, detail) => {
          stats.brokerState = state;
          history?.onBrokerState(state);
          const level = state === 'connected' ? 'info' : 'warn';
          brokerLog[level]({ state, detail }, `redis subscriber ${state}`);
        }, brokerLog, config.redis.commandTimeoutMs)
      : new LocalSubscriber(onMessage);

  history = createWorkerHistory(config, subscriber, log.child({ component: 'history' }));
  const limit = readOpenFileLimit();
  const capacity = connectionCapacity({
    softLimit: limit.soft,
    fdsInUse: countOpenFds() + 8, // the Redis socket and uWS's own descriptors, opened below
    reserve: config.capacity.fdReserve,
    configuredMax: config.capacity.maxConnectionsPerWorker,
  });
  const auth = await ConnectionAuth.create(config, stats, log.child({ component: 'auth' }));
  const gateway = createGateway({ uws, config, log: log.child({ component: 'gateway' }), stats, subscriber, capacity, recovery: history.recovery, onTopicLapse: history.onTopicLapse, auth });
  fanout = new Fanout(gateway.app, stats, log.child({ component: 'fanout' }), history.recovery);

  subscriber.start();
  subscriber.subscribe(BROADCAST_TOPIC);
  stats.brokerState = subscriber.state;

  const port = await gateway.listen();
  const guard = new FdGuard({ gateway, stats, limit: limit.soft, reserve: config.capacity.fdReserve, log });
  guard.start();
  log.info({ port, capacity, nofile: limit.soft }, 'worker listening');
  send({ type: 'listening', port, capacity });

  let stopping = false;
  const shutdown = async (closeCode: number, reason: string, drainWindowSeconds = config.shutdown.drainWindowSeconds, restart = false) => {
    if (stopping) return;
    stopping = true;
    guard.stop();
    const perSecond = drainRate(stats.connections, drainWindowSeconds, config.shutdown.closeRatePerSecond);
    await gateway.drain(closeCode, reason, perSecond, !restart);
    await subscriber.close();
    await history.close();
    log.info('worker stopped');
    log.flush();
    process.exit(0);
  };

  process.on('message', (msg: unknown) => {
    if (!isToWorker(msg)) return;
    if (msg.type === 'stats-request' || msg.type === 'metrics-request') {
      const mem = process.memoryUsage();
      stats.rssBytes = mem.rss;
      stats.heapUsedBytes = mem.heapUsed;
      stats.brokerState = subscriber.state;
      stats.brokerReconnects = subscriber.reconnects;
      if (msg.type === 'stats-request') send({ type: 'stats', id: msg.id, stats });
      else {
        const id = msg.id;
        collectMetrics().then(
          (json) => send({ type: 'metrics', id, metrics: json }),
          (err: Error) => log.error({ err: err.message }, 'metrics collection failed'),
        );
      }
    } else if (msg.type === 'shutdown') {
      void shutdown(msg.closeCode, msg.reason, msg.drainWindowSeconds, msg.restart);
    }
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches the whole process group.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  // Primary gone (killed or crashed): drain with 1001 at the usual pace and leave, rather than run orphaned.
  process.on('disconnect', () => {
    if (stopping) return;
    log.warn({ connections: stats.connections }, 'primary gone: draining and leaving');
    void shutdown(CloseCode.GOING_AWAY, 'server shutting down');
  });
}

main().catch((err: Error) => {
  const message = `${err.name}: ${err.message}`;
  process.stderr.write(`herald worker ${workerId}: ${message}\n`);
  send({ type: 'fatal', message });
  // Give the IPC message a moment to leave before exiting.
  setTimeout(() => process.exit(78), 100);
});
