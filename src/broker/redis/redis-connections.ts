import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseNodeAddress, type NodeAddress, type RedisMode } from './redis-addressing';

/**
 * Where herald's Redis lives, one object for every mode; publishers and
 * subscribers connect with the same settings.
 */
export interface RedisEndpoint {
  /** Default 'standalone'. */
  mode?: RedisMode;
  /** standalone: redis:// or rediss:// URL (may carry credentials and a db). */
  url?: string;
  /** sentinel: the sentinels; cluster: seed nodes. */
  nodes?: readonly NodeAddress[];
  /** sentinel: the master name the sentinels monitor. */
  sentinelName?: string;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  /** TLS to every node (and the sentinels) when set; standalone also turns it on with rediss://. */
  tls?: ConnectionOptions;
  /** A command not answered within this time fails (publish answers 503; the broker counts as unresponsive). */
  commandTimeoutMs: number;
}

/** The redis.* configuration keys, as far as connecting goes. */
export interface RedisSettings {
  mode: RedisMode;
  url: string;
  nodes: readonly string[];
  sentinelName: string;
  username: string;
  password: string;
  sentinelPassword: string;
  tls: boolean;
  tlsCaFile: string;
  commandTimeoutMs: number;
}

/** The endpoint the configuration describes (reads the CA file; the config check made sure it is readable). */
export function redisEndpoint(settings: RedisSettings): RedisEndpoint {
  const tlsOn = settings.mode === 'standalone' ? settings.url.startsWith('rediss://') : settings.tls;
  const ca = settings.tlsCaFile === '' ? undefined : fs.readFileSync(settings.tlsCaFile);
  return {
    mode: settings.mode,
    url: settings.url,
    nodes: settings.nodes.map((text) => {
      const address = parseNodeAddress(text);
      if (typeof address === 'string') throw new Error(`redis.nodes: ${address}`);
      return address;
    }),
    sentinelName: settings.sentinelName,
    username: settings.username || undefined,
    password: settings.password || undefined,
    sentinelPassword: settings.sentinelPassword || undefined,
    tls: tlsOn ? (ca ? { ca } : {}) : undefined,
    commandTimeoutMs: settings.commandTimeoutMs,
  };
}

/** Reconnect quickly at first, then every 2 s: an outage must end by itself, never with a crash. */
export function redisRetryDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

/** How often a cluster client re-reads the slot map when nothing prompted it (moves, failures and MOVED replies prompt it sooner). */
export const SLOTS_REFRESH_MS = 5000;

export type RedisRole = 'commands' | 'subscriber';

/**
 * Options of every connection herald opens to one server, by role:
 * - commands: PUBLISH, FCALL, history reads, FUNCTION LOAD; each command times out.
 * - subscriber: (S)SUBSCRIBE mode, no command timeout (PING probes watch it);
 *   herald resubscribes by itself after a reconnect, so it knows when each topic
 *   is confirmed again.
 */
function serverOptions(endpoint: RedisEndpoint, role: RedisRole, name: string): RedisOptions {
  const common: RedisOptions = {
    connectionName: `herald-${name}-${process.pid}`,
    username: endpoint.username,
    password: endpoint.password,
    ...(endpoint.tls ? { tls: endpoint.tls } : {}),
  };
  return role === 'commands'
    ? { ...common, maxRetriesPerRequest: 1, commandTimeout: endpoint.commandTimeoutMs }
    : { ...common, maxRetriesPerRequest: null, autoResubscribe: false };
}

/**
 * A connection herald manages itself: opened by connect(), never queueing a
 * command while Redis is unreachable (a publish is refused at once rather than
 * delayed), reconnecting by itself.
 */
const SELF_MANAGED: RedisOptions = { lazyConnect: true, enableOfflineQueue: false, retryStrategy: redisRetryDelay };

/**
 * One connection to the standalone server or to the master the sentinels name.
 * `overrides`: for a one-shot client (scripts/publish) that gives up instead of retrying.
 */
export function openRedis(endpoint: RedisEndpoint, role: RedisRole, overrides: RedisOptions = {}): Redis {
  const options = { ...SELF_MANAGED, ...serverOptions(endpoint, role, role), ...overrides };
  if (endpoint.mode === 'cluster') throw new Error('openRedis: a cluster needs openCluster');
  if (endpoint.mode !== 'sentinel') return new Redis(endpoint.url ?? 'redis://127.0.0.1:6379', options);
  return new Redis({
    ...options,
    sentinels: (endpoint.nodes ?? []).map(({ host, port }) => ({ host, port })),
    name: endpoint.sentinelName,
    role: 'master',
    sentinelPassword: endpoint.sentinelPassword,
    sentinelCommandTimeout: endpoint.commandTimeoutMs,
    // The sentinels' +switch-master drops the connection at once, even when the old master is cut
    // off without closing its sockets; the reconnect asks the sentinels for the new master.
    failoverDetector: true,
    enableTLSForSentinelMode: endpoint.tls !== undefined,
    sentinelTLS: endpoint.tls,
    // A command that reached a demoted master: reconnect (to the new master) instead of failing until the next drop.
    reconnectOnError: (err) => /^READONLY/.test(err.message),
  });
}

/**
 * A Redis Cluster client for commands (routed by key slot, MOVED/ASK followed)
 * and for the slot map the sharded subscriber routes by.
 */
export function openCluster(endpoint: RedisEndpoint, overrides: ClusterOptions = {}): Cluster {
  return new Cluster(
    (endpoint.nodes ?? []).map(({ host, port }) => ({ host, port })),
    {
      lazyConnect: true,
      // Queueing stays on here: the client itself sends its ready check while node connections are still opening
      // (it fails the check, and loops, without a queue). herald refuses publishes before they reach the client
      // (ClusterLink.unavailable) and reads history only once it is ready.
      enableOfflineQueue: true,
      clusterRetryStrategy: redisRetryDelay,
      slotsRefreshInterval: SLOTS_REFRESH_MS,
      slotsRefreshTimeout: endpoint.commandTimeoutMs,
      redisOptions: serverOptions(endpoint, 'commands', 'commands'),
      ...overrides,
    },
  );
}

/** One subscriber connection to a cluster master, for SSUBSCRIBE of the channels in its slots. */
export function openShardSubscriber(endpoint: RedisEndpoint, node: NodeAddress): Redis {
  return new Redis({ ...SELF_MANAGED, ...serverOptions(endpoint, 'subscriber', `shard-${node.port}`), host: node.host, port: node.port });
}
