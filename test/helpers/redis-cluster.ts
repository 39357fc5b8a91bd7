import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { keySlot } from '../../src/broker/redis/key-slot';
import { removeTempDir, trackTempDir } from '../../scripts/harness/children';
import { freePort, waitFor } from '../../scripts/harness/ports';
import { askNode, RedisServer, tlsOptions } from '../../scripts/harness/redis-server';
import type { TlsFiles } from '../../scripts/harness/tls-certs';

const run = promisify(execFile);

/** A port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10000 > 65535 || taken.has(port) || taken.has(port + 10000)) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (busFree) {
      taken.add(port).add(port + 10000);
      return port;
    }
  }
}



/**
 * A private Redis Cluster on free ports: `masters` masters with one replica
 * each, built with `redis-cli --cluster create`, with a short node timeout so a
 * failover takes a few seconds. Every process is killed and the config folder
 * removed on stop() and at exit.
 */
export class RedisCluster {
  readonly servers: RedisServer[] = [];
  private dir = '';

  constructor(
    private readonly masters = 3,
    private readonly nodeTimeoutMs = 1000,
    /** Serve TLS only, between nodes too. */
    readonly tls?: TlsFiles,
  ) {}

  /** Seed nodes for herald (two are enough; the rest are discovered). */
  get seeds(): { host: string; port: number }[] {
    return this.servers.slice(0, 2).map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  async start(): Promise<this> {
    this.dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cluster-')));
    const taken = new Set<number>();
    for (let i = 0; i < this.masters * 2; i++) {
      const port = await freeClusterPort(taken);
      const args = [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(this.nodeTimeoutMs),
        // A replica may always take over, however long it was cut off: tests kill masters on purpose.
        '--cluster-replica-validity-factor', '0',
        '--dir', this.dir,
        ...(this.tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
      ];
      this.servers.push(new RedisServer(args, port, this.tls));
    }
    await Promise.all(this.servers.map((s) => s.start()));
    const addresses = this.servers.map((s) => `127.0.0.1:${s.port}`);
    const tlsArgs = this.tls ? ['--tls', '--cacert', this.tls.ca] : [];
    await run('redis-cli', [...tlsArgs, '--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
    await this.waitHealthy();
    return this;
  }

  /** Every live node says the cluster is ok, every slot has a master, and every replica is in sync. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitFor('a healthy cluster', async () => {
      for (const port of this.livePorts()) {
        const info = await askNode(port, (c) => c.cluster('INFO'), this.tls);
        if (!/cluster_state:ok/.test(info)) return false;
        const replication = await askNode(port, (c) => c.info('replication'), this.tls);
        if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
      }
      const owners = await this.slotOwners();
      return owners.every((port) => port !== undefined && this.livePorts().includes(port));
    }, timeoutMs, 100);
  }

  /** The master port serving each slot, as a live node sees it. */
  async slotOwners(): Promise<(number | undefined)[]> {
    const owners: (number | undefined)[] = new Array(16384).fill(undefined);
    const slots = (await askNode(this.livePorts()[0], (c) => c.cluster('SLOTS'), this.tls)) as unknown as [number, number, [string, number]][];
    for (const [from, to, [, port]] of slots) for (let s = from; s <= to; s++) owners[s] = port;
    return owners;
  }

  /** The port of the master that serves a key (or shard channel) now. */
  async masterOf(key: string): Promise<number> {
    const port = (await this.slotOwners())[keySlot(key)];
    if (port === undefined) throw new Error(`no master serves ${key}`);
    return port;
  }

  async masterPorts(): Promise<number[]> {
    return [...new Set((await this.slotOwners()).filter((p): p is number => p !== undefined))];
  }

  livePorts(): number[] {
    return this.servers.filter((s) => s.running).map((s) => s.port);
  }

  /** Kills one node at once (SIGKILL), as a crash would. */
  async kill(port: number): Promise<void> {
    await this.servers.find((s) => s.port === port)?.stop();
  }

  /** Freezes a node (SIGSTOP: connections stay open, nothing is answered). */
  pause(port: number): void {
    this.servers.find((s) => s.port === port)?.pause();
  }

  /** Thaws a node frozen by pause(). */
  resume(port: number): void {
    this.servers.find((s) => s.port === port)?.resume();
  }

  /**
   * Resharding of one slot, as redis-cli --cluster reshard does it: mark it importing/migrating, MIGRATE its
   * keys, then give it to the new master on every master.
   */
  async moveSlot(slot: number, toPort: number): Promise<void> {
    const fromPort = (await this.slotOwners())[slot]!;
    const idOf = (port: number) => askNode(port, (c) => c.cluster('MYID') as Promise<string>, this.tls);
    const [fromId, toId] = [await idOf(fromPort), await idOf(toPort)];
    await askNode(toPort, (c) => c.cluster('SETSLOT', slot, 'IMPORTING', fromId), this.tls);
    await askNode(fromPort, (c) => c.cluster('SETSLOT', slot, 'MIGRATING', toId), this.tls);
    for (;;) {
      const keys = (await askNode(fromPort, (c) => c.cluster('GETKEYSINSLOT', slot, 100), this.tls)) as string[];
      if (keys.length === 0) break;
      await askNode(fromPort, (c) => c.migrate('127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys), this.tls);
    }
    for (const port of [toPort, fromPort, ...(await this.masterPorts()).filter((p) => p !== toPort && p !== fromPort)]) {
      await askNode(port, (c) => c.cluster('SETSLOT', slot, 'NODE', toId), this.tls);
    }
  }

  /** A cluster-aware client, as a publisher in another program would use. */
  client(): Cluster {
    const client = new Cluster([{ host: '127.0.0.1', port: this.servers[0].port }], { redisOptions: { maxRetriesPerRequest: 1, tls: tlsOptions(this.tls) } });
    client.on('error', () => {});
    return client;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    if (this.dir) removeTempDir(this.dir);
  }
}
