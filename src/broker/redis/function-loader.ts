import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { Logger } from '../../logger';

/**
 * Keeps herald's publish function loaded wherever FCALL may run: on the one
 * server (standalone, or the master the sentinels name; replicas get it by
 * replication), or on every master of a cluster. Functions are not shared
 * between cluster shards, so each master is loaded by itself: when the client
 * first connects, whenever the slot map names a master it has not loaded yet
 * (failover, resharding onto a new node) and after a master's connection was
 * lost (it may come back empty). FUNCTION LOAD REPLACE makes every load safe to
 * repeat.
 */
export class FunctionLoader {
  /** Cluster masters ("host:port") known to hold the library. */
  private readonly loaded = new Set<string>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly source: string,
    private readonly fn: string,
    private readonly log: Logger,
    /** Load at connect and keep it loaded (herald's primary); otherwise only loadEverywhere() on demand. */
    watch: boolean,
  ) {
    if (!watch) return;
    if (!isCluster(client)) {
      client.on('ready', () => void this.loadEverywhere().catch(() => {}));
      return;
    }
    // Only once the client is ready: touching nodes earlier disturbs its own ready check.
    const ensure = () => void (client.status === 'ready' && this.loadWhereMissing().catch(() => {}));
    client.on('ready', ensure);
    client.on('refresh', ensure);
    client.on('-node', (node: Redis) => this.loaded.delete(nodeKey(node)));
  }

  /** Loads the library again on every server (after FCALL answered "function not found"). */
  async loadEverywhere(): Promise<void> {
    if (!isCluster(this.client)) return this.load(this.client, 'redis');
    this.loaded.clear();
    await this.loadWhereMissing();
  }

  private async loadWhereMissing(): Promise<void> {
    const cluster = this.client as Cluster;
    const missing = cluster.nodes('master').filter((node) => !this.loaded.has(nodeKey(node)));
    await Promise.all(
      missing.map(async (node) => {
        await this.load(node, nodeKey(node));
        this.loaded.add(nodeKey(node));
      }),
    );
  }

  private async load(redis: Redis, where: string): Promise<void> {
    try {
      await redis.call('FUNCTION', 'LOAD', 'REPLACE', this.source);
      this.log.debug({ fn: this.fn, where }, 'publish function loaded');
    } catch (err) {
      this.log.error({ err: (err as Error).message, fn: this.fn, where }, 'cannot load the publish function: publishes to topics with history will fail');
      throw err;
    }
  }
}

export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}
