import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { removeTempDir, trackChild, trackTempDir } from '../../scripts/harness/children';
import { freePort, waitFor } from '../../scripts/harness/ports';
import { askNode, nodeClient, RedisServer } from '../../scripts/harness/redis-server';
import { redisTlsArgs, type TlsFiles } from '../../scripts/harness/tls-certs';


/**
 * A private Sentinel setup on free ports: one master, one replica and three
 * sentinels (quorum 2) watching them with a 1 s down-after, so a failover
 * takes a few seconds. Every process is killed and the config folder removed
 * on stop() and at exit.
 */
export class RedisSentinels {
  readonly name = 'herald-test';
  readonly servers: RedisServer[] = [];
  readonly sentinelPorts: number[] = [];
  private readonly sentinels: ReturnType<typeof spawn>[] = [];
  private dir = '';

  /** tls: servers and sentinels serve TLS only, replication and the sentinels' links included. */
  constructor(readonly tls?: TlsFiles) {}

  get nodes(): { host: string; port: number }[] {
    return this.sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
  }

  async start(): Promise<this> {
    this.dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-sentinel-')));
    // Replication writes RDB files: keep each server's in its own scratch folder.
    const dirOf = (name: string) => fs.mkdirSync(path.join(this.dir, name), { recursive: true }) ?? path.join(this.dir, name);
    const tlsReplication = this.tls ? ['--tls-replication', 'yes'] : [];
    const master = await new RedisServer(['--dir', dirOf('a'), ...tlsReplication], 0, this.tls).start();
    const replica = await new RedisServer(['--dir', dirOf('b'), ...tlsReplication, '--replicaof', '127.0.0.1', String(master.port)], 0, this.tls).start();
    this.servers.push(master, replica);
    await waitFor('the replica in sync', async () => /master_link_status:up/.test(await askNode(replica.port, (c) => c.info('replication'), this.tls)));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const file = path.join(this.dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its config file, so each gets its own writable copy.
      fs.writeFileSync(file, [
        ...(this.tls ? ['port 0', `tls-port ${port}`, ...tlsConfigLines(this.tls), 'tls-replication yes'] : [`port ${port}`]),
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${this.name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${this.name} 1000`,
        `sentinel failover-timeout ${this.name} 10000`,
        `sentinel parallel-syncs ${this.name} 1`,
        '',
      ].join('\n'));
      this.sentinels.push(trackChild(spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' })));
      this.sentinelPorts.push(port);
    }
    // Each sentinel knows the replica and the two other sentinels: a failover can be agreed and carried out.
    await waitFor('sentinels that know each other and the replica', async () => {
      for (const port of this.sentinelPorts) {
        const replicas = (await askNode(port, (c) => c.call('SENTINEL', 'REPLICAS', this.name), this.tls)) as unknown[];
        const others = (await askNode(port, (c) => c.call('SENTINEL', 'SENTINELS', this.name), this.tls)) as unknown[];
        if (replicas.length !== 1 || others.length !== 2) return false;
      }
      return true;
    }, 20_000, 200);
    return this;
  }

  /** The master port the sentinels agree on now. */
  async masterPort(): Promise<number> {
    const ports = await Promise.all(this.sentinelPorts.map((p) => askNode(p, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name), this.tls) as Promise<[string, string]>));
    const distinct = new Set(ports.map(([, port]) => Number(port)));
    if (distinct.size !== 1) throw new Error(`sentinels disagree: ${[...distinct].join(', ')}`);
    return [...distinct][0];
  }

  /** SENTINEL FAILOVER: the replica is promoted without agreement from the others; resolves once it is master everywhere. */
  async failover(): Promise<{ from: number; to: number }> {
    const from = await this.masterPort();
    const to = this.servers.find((s) => s.port !== from)!.port;
    await askNode(this.sentinelPorts[0], (c) => c.call('SENTINEL', 'FAILOVER', this.name), this.tls);
    await waitFor('the promoted replica', async () => (await this.masterPort().catch(() => 0)) === to && /role:master/.test(await askNode(to, (c) => c.info('replication'), this.tls)), 20_000, 100);
    return { from, to };
  }

  /** A client to whichever server is master now. */
  async masterClient(): Promise<Redis> {
    return nodeClient(await this.masterPort(), this.tls);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.sentinels.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all(this.servers.map((s) => s.stop()));
    if (this.dir) removeTempDir(this.dir);
  }
}

/** The TLS options of redis-server as config file lines (the sentinels read a file). */
function tlsConfigLines(files: TlsFiles): string[] {
  const args = redisTlsArgs(files);
  const lines: string[] = [];
  for (let i = 0; i < args.length; i += 2) lines.push(`${args[i].slice(2)} ${args[i + 1]}`);
  return lines;
}
