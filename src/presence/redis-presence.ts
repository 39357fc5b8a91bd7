import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { openRedis, type RedisEndpoint } from '../broker/redis/redis-connections';
import type { Logger } from '../logger';
import { processBeat } from '../runtime/beat';
import { countOf, type PresenceCount, type PresenceKey, type PresenceTable } from './presence-table';

export interface RedisPresenceOptions extends RedisEndpoint {
  prefix: string;
  /** A herald whose heartbeat is older than this stops counting. */
  ttlSeconds: number;
  log: Logger;
}

/**
 * Presence shared by every herald on one Redis. Each herald (its primary)
 * writes its own totals, batched, into one hash per tracked topic:
 *
 *   <prefix>presence:instances              ZSET  herald id -> heartbeat expiry (ms, Redis clock)
 *   <prefix>presence:{<topic>}:<herald id>  HASH  sub -> connections ('' = connections without a user)
 *   <prefix>presence:topics:<herald id>     SET   the topics this herald has a hash for
 *
 * A reader sums the hashes of the heralds whose heartbeat has not expired, so
 * a dead herald's connections stop counting after ttlSeconds whatever happens
 * to its keys; any herald's heartbeat then deletes them. A herald writes only
 * the (topic, sub) fields that changed, and rewrites everything after its
 * Redis link comes back (Redis may have lost the data).
 */
export class RedisPresence {
  readonly instanceId: string = randomUUID();
  private readonly redis: Redis;
  private readonly stopHeartbeat: () => void;
  private needsFullSync = true;
  /** Topics known to be in this herald's topic set in Redis (SADD only once per topic). */
  private readonly listed = new Set<string>();
  private writing = Promise.resolve();
  private closed = false;

  constructor(private readonly options: RedisPresenceOptions, private readonly table: PresenceTable) {
    this.redis = openRedis(options, 'commands');
    this.redis.on('error', (err: Error) => options.log.debug({ err: err.message }, 'presence redis connection error'));
    this.redis.on('ready', () => {
      this.needsFullSync = true;
      void this.sync([]);
    });
    this.redis.connect().catch(() => {}); // retries by itself
    this.stopHeartbeat = processBeat.every((options.ttlSeconds * 1000) / 3, () => {
      void this.beat();
      // A write failed and nothing changed since: do not wait for the next change to repair Redis.
      if (this.needsFullSync) void this.sync([]);
    });
  }

  private get instancesKey(): string {
    return `${this.options.prefix}presence:instances`;
  }

  private topicKey(topic: string, instance = this.instanceId): string {
    return `${this.options.prefix}presence:{${topic}}:${instance}`;
  }

  private topicsKey(instance = this.instanceId): string {
    return `${this.options.prefix}presence:topics:${instance}`;
  }

  /** Writes the totals of `keys` (or everything, after a reconnect or a failed write), one write at a time. Never throws. */
  sync(keys: readonly PresenceKey[]): Promise<void> {
    this.writing = this.writing.then(() => this.write(keys));
    return this.writing;
  }

  private async write(keys: readonly PresenceKey[]): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') {
      this.needsFullSync = true;
      return;
    }
    try {
      if (this.needsFullSync) {
        this.needsFullSync = false;
        await this.writeAll();
      } else await this.writeChanged(keys);
    } catch (err) {
      this.needsFullSync = true;
      this.options.log.warn({ err: (err as Error).message }, 'presence write to redis failed; will rewrite all');
    }
  }

  /** Connections and distinct users on the topic over every live herald. */
  async count(topic: string): Promise<PresenceCount> {
    const now = await this.redisNow();
    const live = await this.redis.zrangebyscore(this.instancesKey, now, '+inf');
    const pipeline = this.redis.pipeline();
    for (const id of live) pipeline.hgetall(this.topicKey(topic, id));
    const results = (await pipeline.exec()) ?? [];
    const subs = new Map<string, number>();
    for (const [err, hash] of results) {
      if (err) throw err;
      for (const [sub, n] of Object.entries(hash as Record<string, string>)) subs.set(sub, (subs.get(sub) ?? 0) + Number(n));
    }
    return countOf(subs);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopHeartbeat();
    // A clean stop leaves nothing behind: others stop counting this herald at once.
    if (this.redis.status === 'ready') await this.removeInstance(this.instanceId).catch(() => {});
    this.redis.disconnect();
  }

  /** One HSET and one HDEL per changed topic (not per user), all in one round trip. */
  private async writeChanged(keys: readonly PresenceKey[]): Promise<void> {
    if (keys.length === 0) return;
    const byTopic = new Map<string, string[]>();
    for (const [topic, sub] of keys) {
      const subs = byTopic.get(topic);
      if (subs) subs.push(sub);
      else byTopic.set(topic, [sub]);
    }
    const pipeline = this.redis.pipeline();
    const added: string[] = [];
    for (const [topic, subs] of byTopic) {
      const key = this.topicKey(topic);
      if (this.table.subs(topic).size === 0) {
        pipeline.del(key).srem(this.topicsKey(), topic);
        this.listed.delete(topic);
        continue;
      }
      const set: (string | number)[] = [];
      const gone: string[] = [];
      for (const sub of subs) {
        const total = this.table.total(topic, sub);
        if (total > 0) set.push(sub, total);
        else gone.push(sub);
      }
      if (set.length > 0) pipeline.hset(key, ...set);
      if (gone.length > 0) pipeline.hdel(key, ...gone);
      if (!this.listed.has(topic)) added.push(topic);
    }
    if (added.length > 0) pipeline.sadd(this.topicsKey(), ...added);
    await exec(pipeline);
    for (const topic of added) this.listed.add(topic);
  }

  private async writeAll(): Promise<void> {
    await this.beat(false);
    const current = this.table.topics();
    this.listed.clear();
    const known = await this.redis.smembers(this.topicsKey());
    const pipeline = this.redis.pipeline();
    for (const topic of known) if (!current.has(topic)) pipeline.del(this.topicKey(topic)).srem(this.topicsKey(), topic);
    for (const topic of current) {
      const fields = [...this.table.subs(topic)].flat();
      pipeline.del(this.topicKey(topic)).hset(this.topicKey(topic), ...fields).sadd(this.topicsKey(), topic);
    }
    await exec(pipeline);
    for (const topic of current) this.listed.add(topic);
  }

  /**
   * Heartbeat: this herald counts for ttlSeconds more; heralds whose heartbeat expired are
   * cleaned away. If this herald itself had been cleaned away (a stall longer than the TTL),
   * its counts are gone from Redis: it writes them all again.
   */
  private async beat(checkLost = true): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    try {
      const now = await this.redisNow();
      const added = await this.redis.zadd(this.instancesKey, now + this.options.ttlSeconds * 1000, this.instanceId);
      if (checkLost && Number(added) === 1) {
        this.options.log.warn('presence: this herald had expired in Redis; writing its counts again');
        this.needsFullSync = true;
        void this.sync([]);
      }
      for (const dead of await this.redis.zrangebyscore(this.instancesKey, '-inf', now)) await this.removeInstance(dead);
    } catch (err) {
      this.options.log.debug({ err: (err as Error).message }, 'presence heartbeat failed');
    }
  }

  private async removeInstance(id: string): Promise<void> {
    const topics = await this.redis.smembers(this.topicsKey(id));
    const pipeline = this.redis.pipeline();
    for (const topic of topics) pipeline.del(this.topicKey(topic, id));
    pipeline.del(this.topicsKey(id)).zrem(this.instancesKey, id);
    await exec(pipeline);
  }

  /** Redis's clock, in ms: heartbeats and their expiry are compared on one clock, whatever the heralds' clocks say. */
  private async redisNow(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }
}

async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<void> {
  for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
}
