/**
 * Publish one message from the shell, through either broker:
 *   scripts/publish --topic broadcast --message hello
 *   echo '{"x":1}' | scripts/publish --topic user:42 --via redis://127.0.0.1:6379
 * --via takes a redis:// URL (FCALL herald_publish, the function herald loaded into Redis, so the
 * history rules are herald's own) or the admin server's http:// URL (POST /publish, the only way
 * into the local broker). Default: from herald's config.
 * It always says where it published and why there, and whether the message was sequenced
 * (given a seq and stored for recovery) and why.
 */
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { configSources, loadConfig, shortPath, type HeraldConfig } from '../src/config';
import { publishFunctionNames } from '../src/broker/redis/publish-function';
import { isValidTopic } from '../src/protocol/topics';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Route {
  kind: 'redis' | 'admin';
  url: string;
  /** why this route: --via, or what in herald's configuration chose it */
  why: string;
}

function configDescription(): string {
  const sources = configSources();
  return `NODE_ENV=${sources.env}, ${sources.files.map(shortPath).join(', ')}`;
}

function chooseRoute(via: string | undefined, config: HeraldConfig): Route {
  if (via) return { kind: /^rediss?:/.test(via) ? 'redis' : 'admin', url: via.replace(/\/$/, ''), why: 'given with --via' };
  const from = `herald's configuration (${configDescription()})`;
  if (config.broker === 'redis') return { kind: 'redis', url: config.redis.url, why: `${from} has broker "redis" and redis.url (HERALD_REDIS_URL)` };
  return { kind: 'admin', url: `http://${config.admin.host}:${config.admin.port}`, why: `${from} has broker "local", which only the admin API reaches, at admin.host:admin.port (HERALD_ADMIN_HOST, HERALD_ADMIN_PORT)` };
}

/** A URL fit to print: a Redis password is masked. */
function shown(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND...) is in its cause. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  return e.cause ? `${e.message}: ${e.cause.message}` : e.message;
}

const CHOOSE_ANOTHER = '  if herald runs elsewhere or on other ports, name it: --via http://HOST:ADMIN_PORT or --via redis://HOST:PORT';
const whyThere = (route: Route): string => `  why there: ${route.why}`;

async function viaRedis(route: Route, topic: string, payload: Buffer, prefix: string): Promise<void> {
  const redis = new Redis(route.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000 });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err)); // connect() rejects with "Connection is closed"; the cause comes here
  try {
    await redis.connect().catch((err: Error) => {
      throw new Error(`could not connect to Redis at ${shown(route.url)}: ${(lastError ?? err).message}\n${whyThere(route)}\n${CHOOSE_ANOTHER}`);
    });
    const where = `via Redis at ${shown(route.url)}`;
    // herald's own function decides with the history rules herald loaded, so the script cannot disagree with herald.
    const { fn } = publishFunctionNames(prefix);
    let seq: unknown;
    try {
      seq = await redis.call('FCALL', fn, '1', topic, payload);
    } catch (err) {
      if (!/function not found/i.test((err as Error).message)) throw err;
      const receivers = await redis.publish(prefix + topic, payload);
      process.stdout.write(`published ${payload.length} bytes to ${topic} ${where}: ${receivers} herald workers subscribed to ${prefix}${topic}\n${whyThere(route)}\n`);
      process.stdout.write(`history: ${fn} is not loaded in this Redis (no herald with broker "redis" and prefix "${prefix}" has started on it): plain PUBLISH, no seq, not stored\n`);
      return;
    }
    process.stdout.write(`published ${payload.length} bytes to ${topic} ${where}${seq === null ? '' : ` with seq ${seq}`} (FCALL ${fn})\n${whyThere(route)}\n`);
    process.stdout.write(
      seq === null
        ? `history: no history rule matches ${topic} in the rules herald loaded into Redis: published without a seq, not stored\n`
        : `history: ${topic} matches a history rule herald loaded into Redis: sequenced and stored\n`,
    );
  } finally {
    redis.disconnect();
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
  process.stdout.write(`published ${payload.length} bytes to ${topic} via the admin API at ${route.url}${seq === undefined ? '' : ` with seq ${seq}`}\n${whyThere(route)}\n`);
  process.stdout.write(
    seq === undefined
      ? `history: that herald has no history rule for ${topic}: published without a seq, not stored\n`
      : `history: ${topic} matches a history rule of that herald: sequenced and stored\n`,
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
    process.stdout.write('usage: scripts/publish [--topic T] [--message M | < payload] [--via redis://...|http://...] [--api-key K] [--prefix P]\n');
    return 0;
  }
  const config = loadConfig();
  const topic = values.topic!;
  if (!isValidTopic(topic)) throw new Error(`invalid topic "${topic}": 1 to 128 characters of [A-Za-z0-9_.:-]`);
  const payload = values.message !== undefined ? Buffer.from(values.message) : await readStdin();
  const route = chooseRoute(values.via, config);
  if (route.kind === 'redis') await viaRedis(route, topic, payload, values.prefix ?? config.redis.prefix);
  else await viaAdmin(route, topic, payload, values['api-key'] ?? config.admin.apiKey);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`publish failed: ${err.message}\n`);
    process.exit(1);
  },
);
