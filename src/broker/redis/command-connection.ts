import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { Logger } from '../../logger';
import { ClusterLink } from './cluster-link';
import { FunctionLoader } from './function-loader';
import { openCluster, openRedis, type RedisEndpoint } from './redis-connections';
import { RedisLink } from './redis-link';

/**
 * The connection a broker sends commands on (PUBLISH, FCALL, history reads):
 * one Redis (standalone, or the master the sentinels name) or a cluster client
 * that routes each command by its key's slot. The cluster client also holds
 * the slot map the sharded subscriber routes by.
 */
export class CommandConnection {
  readonly client: Redis | Cluster;
  readonly link: RedisLink | ClusterLink;
  private readonly loader: FunctionLoader;

  constructor(
    private readonly endpoint: RedisEndpoint,
    onChange: () => void,
    log: Logger,
    /** The publish function library; loadAtStart for the process that keeps it loaded (herald's primary). */
    fn: { source: string; name: string; loadAtStart: boolean },
  ) {
    if (endpoint.mode === 'cluster') {
      const cluster = openCluster(endpoint);
      this.client = cluster;
      this.link = new ClusterLink(cluster, onChange);
      cluster.on('error', (err: Error) => log.debug({ err: err.message }, 'redis cluster error'));
      cluster.on('node error', (err: Error, node: string) => log.debug({ err: err.message, node }, 'redis cluster node error'));
    } else {
      const redis = openRedis(endpoint, 'commands');
      this.client = redis;
      this.link = new RedisLink(redis, endpoint.commandTimeoutMs, onChange);
      redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis command connection error'));
    }
    this.loader = new FunctionLoader(this.client, fn.source, fn.name, log, fn.loadAtStart);
    this.client.connect().catch(() => {}); // retries by itself; the state says how it goes
  }

  get cluster(): ClusterLink | undefined {
    return this.link instanceof ClusterLink ? this.link : undefined;
  }

  /** Why a command on this key cannot go out now (so it is refused rather than queued); undefined when it can. */
  unavailable(key: string): string | undefined {
    if (this.link instanceof ClusterLink) return this.link.unavailable(key);
    const redis = this.client as Redis;
    if (!this.link.ready) return `redis is ${redis.status}`;
    if (!this.link.answering) return `redis is unresponsive: no answer within ${this.endpoint.commandTimeoutMs} ms`;
    return undefined;
  }

  /** A live message without a seq: PUBLISH, or SPUBLISH on a cluster (sharded pub/sub). */
  publishPlain(channel: string, payload: Buffer): Promise<unknown> {
    return this.link instanceof ClusterLink ? this.client.spublish(channel, payload) : this.client.publish(channel, payload);
  }

  /** Loads the publish function again everywhere (after "function not found"). */
  async reloadFunction(): Promise<void> {
    await this.loader.loadEverywhere();
  }

  /** Resolves once commands can go out; rejects if the connection is closed for good. */
  untilReady(): Promise<void> {
    if (this.link.ready) return Promise.resolve();
    const client = this.client;
    if (client.status === 'end') return Promise.reject(new Error('redis connection closed'));
    return new Promise((resolve, reject) => {
      const ready = () => {
        client.off('end', end);
        resolve();
      };
      const end = () => {
        client.off('ready', ready);
        reject(new Error('redis connection ended'));
      };
      client.once('ready', ready);
      client.once('end', end);
    });
  }

  close(): void {
    this.link.close();
  }
}
