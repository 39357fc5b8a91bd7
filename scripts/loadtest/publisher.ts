// Publishes the run's own test broadcasts through Redis (PUBLISH) or herald's admin
// API (POST /publish), stamping t just before each publish so latency covers the
// whole fan-out.
import type RedisClient from 'ioredis';
import { nowUs } from './client-stats';
import type { PublishedSeq } from './payload-tracker';

export interface Publisher {
  /** publishes {"t","seq","time"}; returns what was published and how many receivers the broker reported */
  publish(seq: number): Promise<PublishedSeq & { receivers: number | null }>;
  close(): Promise<void>;
}

export function clockPayload(seq: number, t = nowUs()): string {
  return JSON.stringify({ t, seq, time: new Date(Math.floor(t / 1000)).toISOString() });
}

export async function createPublisher(via: string, opts: { channel: string; topic: string; apiKey: string | null }): Promise<Publisher> {
  const u = new URL(via);
  if (u.protocol === 'redis:') return redisPublisher(via, opts.channel);
  if (u.protocol === 'http:') return httpPublisher(u, opts.topic, opts.apiKey);
  throw new Error(`--publish-via must be redis://... or http://..., got ${via}`);
}

async function redisPublisher(url: string, channel: string): Promise<Publisher> {
  // Loaded only when publishing through Redis: ioredis costs a client run 40 ms of start-up CPU.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Redis = require('ioredis') as typeof RedisClient;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  await redis.connect();
  return {
    async publish(seq) {
      const t = nowUs();
      const receivers = await redis.publish(channel, clockPayload(seq, t));
      return { seq, t, receivers };
    },
    async close() { await redis.quit(); },
  };
}

function httpPublisher(base: URL, topic: string, apiKey: string | null): Publisher {
  const url = new URL(`/publish?topic=${encodeURIComponent(topic)}`, base);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return {
    async publish(seq) {
      const t = nowUs();
      const res = await fetch(url, { method: 'POST', headers, body: clockPayload(seq, t) });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST ${url} -> ${res.status} ${text.slice(0, 200)}`);
      return { seq, t, receivers: null };
    },
    async close() { /* fetch keeps no connection we own */ },
  };
}
