/**
 * Publish one message from the shell, through either broker:
 *   scripts/publish --topic broadcast --message hello
 *   echo '{"x":1}' | scripts/publish --topic user:42 --via redis://127.0.0.1:6379
 * --via takes a redis:// URL (PUBLISH <prefix><topic>) or the admin server's http:// URL
 * (POST /publish, the only way into the local broker). Default: from herald's config.
 */
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { loadConfig } from '../src/config';
import { publishFunctionNames } from '../src/broker/redis/publish-function';
import { isValidTopic } from '../src/protocol/topics';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
  const via = values.via ?? (config.broker === 'redis' ? config.redis.url : `http://${config.admin.host}:${config.admin.port}`);

  if (/^rediss?:/.test(via)) {
    const redis = new Redis(via, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      const prefix = values.prefix ?? config.redis.prefix;
      // herald's own publish function decides, with the history rules herald loaded into Redis.
      const fn = publishFunctionNames(prefix).fn;
      const seq = await redis.call('FCALL', fn, '1', topic, payload).catch(async (err: Error) => {
        if (!/function not found/i.test(err.message)) throw err;
        process.stderr.write(`note: ${fn} is not loaded in this Redis (no herald with broker "redis" has started on it): plain PUBLISH, no seq\n`);
        await redis.publish(prefix + topic, payload);
        return null;
      });
      process.stdout.write(`published ${payload.length} bytes to ${topic} via redis ${seq === null ? 'without a seq (no history rule)' : `with seq ${seq}`}\n`);
    } finally {
      redis.disconnect();
    }
    return 0;
  }
  const apiKey = values['api-key'] ?? config.admin.apiKey;
  const res = await fetch(`${via.replace(/\/$/, '')}/publish?topic=${encodeURIComponent(topic)}`, {
    method: 'POST',
    body: payload,
    headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`admin API answered ${res.status}: ${body.trim()}`);
  process.stdout.write(`published ${payload.length} bytes to ${topic} via ${via}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`publish failed: ${err.message}\n`);
    process.exit(1);
  },
);
