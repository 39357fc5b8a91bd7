/**
 * Publish one message from the shell, through either broker:
 *   scripts/publish --topic broadcast --message hello
 *   echo '{"x":1}' | scripts/publish --topic user:42 --via redis://127.0.0.1:6379
 * --via takes a Redis target (redis://, redis+sentinel://, redis+cluster://: see
 * scripts/lib/redis-via.ts; FCALL herald_publish, the function herald loaded into Redis, so the
 * history rules are herald's own) or the admin server's http:// URL (POST /publish, the only way
 * into the local broker). Default: from herald's config, in the mode herald uses (a cluster gets
 * SPUBLISH, Sentinel's current master is asked for).
 * It always says where it published and why there, and whether the message was sequenced
 * (given a seq and stored for recovery) and why.
 */
import type net from 'node:net';
import { parseArgs } from 'node:util';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { configSources, loadConfig, shortPath, type HeraldConfig } from '../src/config';
import { keySlot } from '../src/broker/redis/key-slot';
import { publishFunctionNames } from '../src/broker/redis/publish-function';
import { openCluster, openRedis, redisEndpoint, type RedisEndpoint } from '../src/broker/redis/redis-connections';
import { isValidTopic } from '../src/protocol/topics';
import { nodeList, parseRedisVia, REDIS_VIA, shownVia } from './lib/redis-via';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Route {
  kind: 'redis' | 'admin';
  url: string;
  /** Redis only: how to connect (standalone, sentinel, cluster). */
  endpoint?: RedisEndpoint;
  /** why this route: --via, or what in herald's configuration chose it */
  why: string;
}

function configDescription(): string {
  const sources = configSources();
  return `NODE_ENV=${sources.env}, ${sources.files.map(shortPath).join(', ')}`;
}

function chooseRoute(via: string | undefined, config: HeraldConfig): Route {
  if (via && REDIS_VIA.test(via)) return { kind: 'redis', url: via, endpoint: parseRedisVia(via, config.redis.commandTimeoutMs), why: 'given with --via' };
  if (via) return { kind: 'admin', url: via.replace(/\/$/, ''), why: 'given with --via' };
  const from = `herald's configuration (${configDescription()})`;
  if (config.broker === 'local') {
    return { kind: 'admin', url: `http://${config.admin.host}:${config.admin.port}`, why: `${from} has broker "local", which only the admin API reaches, at admin.host:admin.port (HERALD_ADMIN_HOST, HERALD_ADMIN_PORT)` };
  }
  const endpoint = redisEndpoint(config.redis);
  const { mode, url, sentinelName } = config.redis;
  const tls = endpoint.tls ? 'rediss' : 'redis';
  if (mode === 'cluster') {
    return { kind: 'redis', url: `${tls}+cluster://${nodeList(endpoint.nodes)}`, endpoint, why: `${from} has broker "redis" with redis.mode "cluster" (HERALD_REDIS_MODE) and seed nodes in redis.nodes (HERALD_REDIS_NODES)` };
  }
  if (mode === 'sentinel') {
    return { kind: 'redis', url: `${tls}+sentinel://${nodeList(endpoint.nodes)}/${sentinelName}`, endpoint, why: `${from} has broker "redis" with redis.mode "sentinel" (HERALD_REDIS_MODE): the master that the sentinels in redis.nodes (HERALD_REDIS_NODES) name "${sentinelName}" (redis.sentinelName)` };
  }
  return { kind: 'redis', url, endpoint, why: `${from} has broker "redis" and redis.url (HERALD_REDIS_URL)` };
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND...) is in its cause. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  return e.cause ? `${e.message}: ${e.cause.message}` : e.message;
}

const CHOOSE_ANOTHER = '  if herald runs elsewhere or on other ports, name it: --via http://HOST:ADMIN_PORT, --via redis://HOST:PORT, redis+sentinel://HOST:PORT,.../NAME or redis+cluster://HOST:PORT,...';
const whyThere = (route: Route): string => `  why there: ${route.why}`;
const say = (...lines: string[]): void => void process.stdout.write(lines.map((l) => `${l}\n`).join(''));

function historyLine(topic: string, seq: unknown): string {
  return seq === null
    ? `history: no history rule matches ${topic} in the rules herald loaded into Redis: published without a seq, not stored`
    : `history: ${topic} matches a history rule herald loaded into Redis: sequenced and stored`;
}

const notLoaded = (fn: string, prefix: string, how: string) =>
  `history: ${fn} is not loaded in this Redis (no herald with broker "redis" and prefix "${prefix}" has started on it): plain ${how}, no seq, not stored`;

/** Connects once, without the retries herald's own connections make; the cause of a failure comes from the 'error' events. */
async function connectOnce<T extends Redis | Cluster>(client: T, route: Route): Promise<T> {
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  await client.connect().catch((err: Error) => {
    client.disconnect();
    throw new Error(`could not connect to Redis at ${shownVia(route.url)}: ${(lastError ?? err).message}\n${whyThere(route)}\n${CHOOSE_ANOTHER}`);
  });
  return client;
}

/** One server, or the master the sentinels name now (asked at connect, as herald asks). */
async function viaServer(route: Route, endpoint: RedisEndpoint, topic: string, payload: Buffer, prefix: string): Promise<void> {
  const redis = await connectOnce(openRedis(endpoint, 'commands', { retryStrategy: () => null, sentinelRetryStrategy: () => null, connectTimeout: 5000, connectionName: 'herald-publish-script' }), route);
  try {
    const socket = redis.stream as net.Socket;
    const where =
      endpoint.mode === 'sentinel'
        ? `via Redis at ${socket.remoteAddress}:${socket.remotePort}, the master that the sentinels (${nodeList(endpoint.nodes)}) name "${endpoint.sentinelName}" now`
        : `via Redis at ${shownVia(route.url)}`;
    // herald's own function decides with the history rules herald loaded, so the script cannot disagree with herald.
    const { fn } = publishFunctionNames(prefix);
    let seq: unknown;
    try {
      seq = await redis.call('FCALL', fn, '1', topic, payload);
    } catch (err) {
      if (!/function not found/i.test((err as Error).message)) throw err;
      const receivers = await redis.publish(prefix + topic, payload);
      return say(`published ${payload.length} bytes to ${topic} ${where}: ${receivers} herald workers subscribed to ${prefix}${topic}`, whyThere(route), notLoaded(fn, prefix, 'PUBLISH'));
    }
    say(`published ${payload.length} bytes to ${topic} ${where}${seq === null ? '' : ` with seq ${seq}`} (FCALL ${fn})`, whyThere(route), historyLine(topic, seq));
  } finally {
    redis.disconnect();
  }
}

const WHY_SPUBLISH = `  why SPUBLISH: on a cluster herald's workers subscribe with SSUBSCRIBE (sharded pub/sub), so a plain PUBLISH would reach none of them; the cluster client sends it to the master of the channel's slot`;

/** A Redis Cluster: FCALL on the master of the topic's slot, or SPUBLISH on the master of the channel's slot. */
async function viaCluster(route: Route, endpoint: RedisEndpoint, topic: string, payload: Buffer, prefix: string): Promise<void> {
  const cluster = await connectOnce(openCluster(endpoint, { clusterRetryStrategy: () => null }), route);
  try {
    const seeds = `via Redis Cluster (seed nodes ${nodeList(endpoint.nodes)})`;
    const master = (key: string) => {
      const slot = keySlot(key);
      return `${cluster.slots[slot]?.[0] ?? 'the master'} (master of slot ${slot})`;
    };
    const { fn } = publishFunctionNames(prefix);
    let refusal: string;
    try {
      const seq = await cluster.call('FCALL', fn, '1', topic, payload);
      return say(`published ${payload.length} bytes to ${topic} ${seeds} with seq ${seq} (FCALL ${fn}, run by ${master(topic)}, which SPUBLISHes it)`, whyThere(route), historyLine(topic, seq));
    } catch (err) {
      const message = (err as Error).message;
      if (!/function not found|has no history rule/i.test(message)) throw err;
      refusal = /function not found/i.test(message)
        ? notLoaded(fn, prefix, 'SPUBLISH')
        : `history: no history rule matches ${topic} in the rules herald loaded into Redis (${fn} refused it, as it does on a cluster): published with SPUBLISH, no seq, not stored`;
    }
    const channel = prefix + topic;
    const receivers = await cluster.spublish(channel, payload);
    say(`published ${payload.length} bytes to ${topic} ${seeds} with SPUBLISH ${channel} on ${master(channel)}: ${receivers} herald workers subscribed there`, whyThere(route), WHY_SPUBLISH, refusal);
  } finally {
    cluster.disconnect();
  }
}

async function viaAdmin(route: Route, topic: string, payload: Buffer, apiKey: string): Promise<void> {
  const endpoint = `${route.url}/publish?topic=${encodeURIComponent(topic)}`;
  let res: Response;
  try {
    res = await fetch(endpoint, { method: 'POST', body: payload, headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {} });
  } catch (err) {
    throw new Error(`could not reach herald's admin API at POST ${endpoint}: ${reason(err)}\n${whyThere(route)}\n${CHOOSE_ANOTHER}`);
  }
  const body = await res.text();
  if (!res.ok) throw new Error(`herald's admin API at POST ${endpoint} answered ${res.status}: ${body.trim()}\n${whyThere(route)}`);
  const { seq } = JSON.parse(body) as { seq?: number };
  say(
    `published ${payload.length} bytes to ${topic} via the admin API at ${route.url}${seq === undefined ? '' : ` with seq ${seq}`}`,
    whyThere(route),
    seq === undefined ? `history: that herald has no history rule for ${topic}: published without a seq, not stored` : `history: ${topic} matches a history rule of that herald: sequenced and stored`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      topic: { type: 'string', default: 'broadcast' },
      message: { type: 'string' },
      via: { type: 'string' },
      'api-key': { type: 'string' },
      prefix: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    say(
      'usage: scripts/publish [--topic T] [--message M | < payload] [--via TARGET] [--api-key K] [--prefix P]',
      '  TARGET: http://HOST:ADMIN_PORT (herald\'s admin API), redis://HOST:PORT (one Redis),',
      '          redis+sentinel://HOST:PORT[,HOST:PORT...]/NAME (the master the sentinels name), redis+cluster://HOST:PORT[,HOST:PORT...]',
      '          (rediss... for TLS; user:password@ after //). Default: herald\'s own configuration.',
    );
    return 0;
  }
  const config = loadConfig();
  const topic = values.topic!;
  if (!isValidTopic(topic)) throw new Error(`invalid topic "${topic}": 1 to 128 characters of [A-Za-z0-9_.:-]`);
  const payload = values.message !== undefined ? Buffer.from(values.message) : await readStdin();
  const route = chooseRoute(values.via, config);
  const prefix = values.prefix ?? config.redis.prefix;
  if (route.kind === 'admin') await viaAdmin(route, topic, payload, values['api-key'] ?? config.admin.apiKey);
  else if (route.endpoint!.mode === 'cluster') await viaCluster(route, route.endpoint!, topic, payload, prefix);
  else await viaServer(route, route.endpoint!, topic, payload, prefix);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`publish failed: ${err.message}\n`);
    process.exit(1);
  },
);
