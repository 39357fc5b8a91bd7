import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { HistoryRule } from './history-rules';
import { channelName, seqKey, streamKey } from './history-keys';

/** scripts/herald-publish.lua, the one definition of "append and publish" (also usable with redis-cli). */
export const PUBLISH_SCRIPT_PATH = path.resolve(__dirname, '..', '..', '..', 'scripts', 'herald-publish.lua');

interface HistoryCommand {
  heraldPublish?(seqKey: string, streamKey: string, channel: string, payload: Buffer, maxLength: number, maxAgeMs: number): Promise<number>;
}

/**
 * Registers the script on an ioredis client. ioredis runs it with EVALSHA and
 * falls back to EVAL once on NOSCRIPT (after a Redis restart or SCRIPT FLUSH).
 */
export function definePublishScript(redis: Redis): void {
  if ((redis as unknown as HistoryCommand).heraldPublish) return;
  redis.defineCommand('heraldPublish', { numberOfKeys: 2, lua: fs.readFileSync(PUBLISH_SCRIPT_PATH, 'utf8') });
}

/** Appends to the topic's history and publishes, atomically; resolves to the message's seq. */
export async function publishWithHistory(redis: Redis, prefix: string, topic: string, payload: Buffer, rule: HistoryRule): Promise<number> {
  definePublishScript(redis);
  const seq = await (redis as unknown as Required<HistoryCommand>).heraldPublish(
    seqKey(prefix, topic),
    streamKey(prefix, topic),
    channelName(prefix, topic),
    payload,
    rule.maxLength,
    rule.maxAgeSeconds * 1000,
  );
  return Number(seq);
}
