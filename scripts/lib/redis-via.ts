/**
 * The Redis deployments scripts/publish reaches with --via, as herald's own
 * RedisEndpoint, so the script connects the way herald does:
 *
 *   redis://[user:password@]host:port[/db]                           one server (rediss:// for TLS)
 *   redis+sentinel://[user:password@]host:port[,host:port...]/NAME   the master the sentinels name NAME
 *   redis+cluster://[user:password@]host:port[,host:port...]         a Redis Cluster, through these seed nodes
 *
 * (rediss+sentinel://, rediss+cluster://: TLS to every node.)
 */
import { parseNodeAddress, type NodeAddress } from '../../src/broker/redis/redis-addressing';
import type { RedisEndpoint } from '../../src/broker/redis/redis-connections';
import { UsageError } from './cli';

export const REDIS_VIA = /^rediss?(\+(sentinel|cluster))?:\/\//;

const MULTI_NODE = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@]+?)(?:\/([^/]*))?\/?$/;

export function parseRedisVia(via: string, commandTimeoutMs: number): RedisEndpoint {
  if (/^rediss?:\/\//.test(via)) return { mode: 'standalone', url: via, commandTimeoutMs };
  const m = MULTI_NODE.exec(via);
  if (!m) throw new UsageError(`--via ${shownVia(via)}: expected redis+sentinel://host:port[,host:port...]/NAME or redis+cluster://host:port[,host:port...]`);
  const [, scheme, mode, user, password, hosts, name] = m;
  const nodes: NodeAddress[] = hosts.split(',').map((text) => {
    const node = parseNodeAddress(text.trim());
    if (typeof node === 'string') throw new UsageError(`--via ${shownVia(via)}: ${node}`);
    return node;
  });
  if (mode === 'sentinel' && !name) throw new UsageError(`--via ${shownVia(via)}: name the master after the nodes: redis+sentinel://host:port,.../NAME`);
  if (mode === 'cluster' && name) throw new UsageError(`--via ${shownVia(via)}: a cluster has no master name; drop "/${name}"`);
  return {
    mode: mode as 'sentinel' | 'cluster',
    nodes,
    sentinelName: name ? decodeURIComponent(name) : undefined,
    username: user ? decodeURIComponent(user) : undefined,
    password: password ? decodeURIComponent(password) : undefined,
    tls: scheme === 'rediss' ? {} : undefined,
    commandTimeoutMs,
  };
}

/** A Redis URL fit to print: the password is masked. */
export function shownVia(url: string): string {
  return url.replace(/^(rediss?(?:\+\w+)?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

export function nodeList(nodes: readonly NodeAddress[] = []): string {
  return nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
}
