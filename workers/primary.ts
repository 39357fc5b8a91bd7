/**
 * `npm start`: the primary process. It forks the gateway workers, runs the
 * admin server and the clock, and coordinates shutdown. It owns no client socket.
 */
import os from 'node:os';
import { createAdminServer } from '../src/admin/admin-server';
import type { Broker } from '../src/broker/broker';
import { HistoryRules } from '../src/broker/history-rules';
import { LocalBrokerHost } from '../src/broker/local-broker';
import { MemoryHistory } from '../src/broker/memory-history';
import { RedisBroker } from '../src/broker/redis/redis-broker';
import { redisEndpoint } from '../src/broker/redis/redis-connections';
import { checkKernelLimits } from '../src/capacity/kernel-limits';
import { connectionCapacity, readOpenFileLimit } from '../src/capacity/fd-limits';
import { startClock } from '../src/clock/clock-publisher';
import { ConfigError, loadConfig, type HeraldConfig } from '../src/config';
import { assertPortFree } from '../src/lifecycle/port-probe';
import { Supervisor } from '../src/lifecycle/supervisor';
import { createClusterMetrics } from '../src/metrics/cluster-metrics';
import { createLogger, type Logger } from '../src/logger';
import { loadNativeUws } from '../src/native-uws';
import { PresenceService } from '../src/presence/presence-service';
import { RedisPresence } from '../src/presence/redis-presence';
import { CONTROL_TOPIC, encodeControl } from '../src/protocol/control';
import { TopicPatterns } from '../src/protocol/topic-patterns';
import { ShutdownList } from '../src/runtime/shutdown-list';
import { describeCertificate } from '../src/tls-files';
import { scheme } from '../src/transport/create-app';

/** Exit codes: 0 clean stop, 1 runtime failure or forced stop, 78 configuration or environment error. */
const EXIT_CONFIG = 78;

function logCapacity(config: HeraldConfig, workers: number, log: Logger): void {
  const limit = readOpenFileLimit();
  const perWorker = connectionCapacity({ softLimit: limit.soft, fdsInUse: 40, reserve: config.capacity.fdReserve, configuredMax: config.capacity.maxConnectionsPerWorker });
  log.info({ workers, perWorker, estimate: workers * perWorker, nofile: limit.soft }, `capacity estimate: ${workers} workers x ${perWorker} = ${workers * perWorker} connections`);
  const findings = checkKernelLimits({ targetConnections: config.capacity.targetConnections, workers, nofileSoft: limit.soft, nofileHard: limit.hard });
  for (const f of findings) {
    log.warn({ limit: f.name, current: f.current, wanted: f.wanted }, `${f.name} caps capacity for ${config.capacity.targetConnections} connections; fix: ${f.fix}`);
  }
}

/** Which certificate wss:// clients get; an expired one still loads, and clients will refuse it. */
function logCertificate(certFile: string, log: Logger): void {
  const { subject, validTo, expired } = describeCertificate(certFile);
  log[expired ? 'error' : 'info']({ certFile, subject, validTo }, expired ? 'TLS certificate has expired: clients will refuse it' : 'TLS certificate');
}

/** Presence counts: workers report to the primary; with Redis every herald's totals are shared there. */
function openPresence(config: HeraldConfig, broker: Broker, supervisor: Supervisor, log: Logger): PresenceService {
  const patterns = new TopicPatterns(config.presence.topics);
  const presence = new PresenceService({
    patterns,
    flushMs: config.presence.flushMs,
    announce: config.presence.push ? (topic, count) => broker.publish(CONTROL_TOPIC, encodeControl({ op: 'presence', topic, ...count })) : undefined,
    log,
  });
  if (config.broker === 'redis' && !patterns.empty) {
    presence.useRedis(new RedisPresence({ ...redisEndpoint(config.redis), prefix: config.redis.prefix, ttlSeconds: config.presence.instanceTtlSeconds, log }, presence.table));
  }
  supervisor.onWorkerMessage('presence', (msg) => presence.report(msg.pid, msg.updates));
  // Every worker exit, also an old worker's after a rolling restart (its slot already has the new one).
  supervisor.onWorkerExit((pid) => presence.workerExited(pid));
  return presence;
}

/** The publishing broker: Redis (which also loads the publish function), or the local one that owns history here. */
function openBroker(config: HeraldConfig, supervisor: Supervisor, log: Logger): Broker {
  const rules = new HistoryRules(config.history.rules);
  if (config.broker === 'redis') {
    return new RedisBroker({
      ...redisEndpoint(config.redis),
      prefix: config.redis.prefix,
      rules,
      loadFunction: true,
      log,
      handlers: {
        onMessage: () => {}, // the primary holds no client: it never subscribes
        onState: (state) => log[state === 'connected' || state === 'closed' ? 'info' : 'warn']({ state }, `redis ${state}`),
      },
    });
  }
  const host = new LocalBrokerHost(new MemoryHistory(rules), (msg) => supervisor.sendToAll(msg));
  supervisor.serveBroker(['broker:publish', 'broker:history'], (msg, reply) => host.serve(msg, reply));
  return host;
}

async function main(): Promise<void> {
  let config: HeraldConfig;
  try {
    config = loadConfig();
    loadNativeUws(); // fail here, once, rather than in every worker
  } catch (err) {
    process.stderr.write(`herald: ${err instanceof ConfigError ? 'invalid configuration: ' : ''}${(err as Error).message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const log = createLogger(config.log.level, 'primary');
  const workers = config.workers > 0 ? config.workers : os.availableParallelism();
  logCapacity(config, workers, log);
  if (config.tls.certFile) logCertificate(config.tls.certFile, log);
  const shutdown = new ShutdownList(log);

  const supervisor = new Supervisor({ config, workerCount: workers, log: log.child({ component: 'supervisor' }) });
  const broker = openBroker(config, supervisor, log.child({ component: 'broker' }));
  shutdown.add('broker', () => broker.close());
  const presence = openPresence(config, broker, supervisor, log.child({ component: 'presence' }));
  shutdown.add('presence', () => presence.close());
  // Workers drain within shutdown.timeoutSeconds or are killed; the list waits a little longer for that.
  shutdown.add('workers', () => supervisor.shutdown().then(({ forced }) => void (exitCode = forced ? 1 : 0)), (config.shutdown.timeoutSeconds + 5) * 1000);
  let exitCode = 0;

  const metrics = createClusterMetrics({ workers: () => supervisor.metricsSnapshot(), workerCounts: () => supervisor.counts() });
  const admin = createAdminServer({
    config,
    log: log.child({ component: 'admin' }),
    publisher: broker,
    snapshot: () => supervisor.snapshot(),
    metrics,
    control: { publisher: broker, authEnabled: config.auth.enabled, presence },
  });
  shutdown.add('admin server', () => new Promise<void>((resolve) => admin.close(() => resolve())));

  let signals = 0;
  const stop = async (signal: string, failed = false) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: forcing exit');
      supervisor.killAll();
      log.flush();
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    if (failed) exitCode = 1;
    await shutdown.close();
    log.info({ forced: exitCode !== 0 }, 'herald stopped');
    log.flush();
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A bug in the primary must not drop every client at once: log it, then stop as on SIGTERM
  // (workers drain with 1001) and exit 1 so that the service manager restarts herald.
  const crashed = (err: unknown) => {
    log.fatal({ err: err instanceof Error ? err.stack : String(err) }, 'primary failed: stopping');
    if (signals === 0) void stop('crash', true);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  // Rolling restart. The configuration is re-read first, so a broken file stops the roll before any worker is
  // touched; the new workers read the files themselves. Primary-level settings (ports, broker, workers) need a full restart.
  const roll = async (signal: string) => {
    let next: HeraldConfig;
    try {
      next = loadConfig();
    } catch (err) {
      log.error({ signal, err: (err as Error).message }, 'rolling restart refused: invalid configuration');
      return;
    }
    log.info({ signal }, 'rolling restart requested');
    if (next.tls.certFile) logCertificate(next.tls.certFile, log);
    await supervisor.rollingRestart({ drainWindowSeconds: next.restart.drainWindowSeconds, readyTimeoutSeconds: next.restart.readyTimeoutSeconds });
  };
  process.on('SIGHUP', () => void roll('SIGHUP'));
  process.on('SIGUSR2', () => void roll('SIGUSR2'));

  try {
    await assertPortFree(config.host, config.port);
  } catch (err) {
    log.fatal({ err: (err as Error).message }, (err as Error).message);
    log.flush();
    process.exit(1);
  }
  supervisor.start();
  admin.on('error', (err) => {
    log.fatal({ err: err.message }, `admin server cannot listen on ${config.admin.host}:${config.admin.port}`);
    supervisor.killAll();
    process.exit(1);
  });
  admin.listen(config.admin.port, config.admin.host);

  try {
    await supervisor.ready;
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'herald failed to start');
    supervisor.killAll();
    log.flush();
    process.exit(1);
  }
  if (config.clock.intervalSeconds > 0) {
    const stopClock = startClock({ publisher: broker, topic: config.clock.topic, intervalSeconds: config.clock.intervalSeconds, log: log.child({ component: 'clock' }) });
    shutdown.add('clock', stopClock);
  }
  log.info({ port: config.port, url: `${scheme(config.tls)}://${config.host}:${config.port}/ws`, workers, broker: config.broker, admin: `${config.admin.host}:${config.admin.port}` }, 'herald ready');
}

void main();
