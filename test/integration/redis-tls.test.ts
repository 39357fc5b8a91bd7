import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BrokerUnavailableError } from '../../src/broker/broker';
import { redisEndpoint, type RedisEndpoint } from '../../src/broker/redis/redis-connections';
import { CONTRACT_RULES } from '../contract/broker-contract';
import { waitFor } from '../../scripts/harness/ports';
import { redisBrokerPair } from '../helpers/redis-broker-pair';
import { RedisCluster } from '../helpers/redis-cluster';
import { RedisSentinels } from '../helpers/redis-sentinel';
import { RedisServer } from '../../scripts/harness/redis-server';
import { makeTlsFiles, removeTlsFiles, type TlsFiles } from '../../scripts/harness/tls-certs';

/** Publishes with and without history through a broker pair on the endpoint and reads the history back. */
async function roundTrip(endpoint: RedisEndpoint): Promise<void> {
  const pair = redisBrokerPair(endpoint, CONTRACT_RULES, async () => {});
  try {
    await waitFor('publisher connected', () => pair.publisher.state === 'connected', 15_000);
    await pair.subscriber.subscribe('hist:tls');
    await pair.subscriber.subscribe('plain:tls');
    assert.deepEqual(await pair.publisher.publish('hist:tls', Buffer.from('sealed')), { seq: 1 });
    assert.deepEqual(await pair.publisher.publish('plain:tls', Buffer.from('also sealed')), {});
    await waitFor('both', () => pair.received.length === 2);
    assert.equal((await pair.subscriber.history('hist:tls', 0, 10)).entries[0].payload.toString(), 'sealed');
    assert.equal(pair.subscriber.state, 'connected');
  } finally {
    await pair.close();
  }
}

const settings = { nodes: [], sentinelName: '', username: '', password: '', sentinelPassword: '', tls: false, commandTimeoutMs: 1000 };

describe('redis broker over TLS', { timeout: 120_000 }, () => {
  let files: TlsFiles;

  before(() => {
    files = makeTlsFiles();
  });

  after(() => removeTlsFiles(files));

  it('standalone: a rediss:// URL with the CA file', { timeout: 30_000 }, async () => {
    const server = await new RedisServer([], 0, files).start();
    try {
      await roundTrip(redisEndpoint({ ...settings, mode: 'standalone', url: server.url, tlsCaFile: files.ca }));
      // Without the CA the server's certificate is not trusted: never connected, publishes refused.
      const untrusted = redisBrokerPair(redisEndpoint({ ...settings, mode: 'standalone', url: server.url, tlsCaFile: '' }), [], async () => {});
      try {
        await waitFor('a refused handshake', () => untrusted.publisherStates.includes('disconnected'));
        assert.ok(!untrusted.publisherStates.includes('connected'));
        await assert.rejects(untrusted.publisher.publish('plain:x', Buffer.from('x')), BrokerUnavailableError);
      } finally {
        await untrusted.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('cluster: every node, and the nodes between themselves, over TLS only', { timeout: 60_000 }, async () => {
    const cluster = await new RedisCluster(3, 1000, files).start();
    try {
      const nodes = cluster.seeds.map((n) => `${n.host}:${n.port}`);
      await roundTrip(redisEndpoint({ ...settings, mode: 'cluster', url: 'redis://127.0.0.1:6379', nodes, tls: true, tlsCaFile: files.ca }));
    } finally {
      await cluster.stop();
    }
  });

  it('sentinel: the sentinels and the master they name, over TLS only', { timeout: 60_000 }, async () => {
    const sentinels = await new RedisSentinels(files).start();
    try {
      const nodes = sentinels.nodes.map((n) => `${n.host}:${n.port}`);
      await roundTrip(redisEndpoint({ ...settings, mode: 'sentinel', url: 'redis://127.0.0.1:6379', nodes, sentinelName: sentinels.name, tls: true, tlsCaFile: files.ca }));
    } finally {
      await sentinels.stop();
    }
  });
});
