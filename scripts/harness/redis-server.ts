import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, waitFor } from './ports';
import { trackChild } from './children';
import { redisTlsArgs, type TlsFiles } from './tls-certs';

/** A private redis-server on a free port, so tests never share state with each other or the machine's Redis. */
export class RedisServer {
  private child?: ChildProcess;
  /** With `persistent`, every write goes to an append-only file (fsync always), so a restart keeps the data. */
  private readonly dir?: string;

  /**
   * extraArgs: more redis-server options (cluster mode, replicaof...); port 0 picks a free one at start;
   * tls: serve TLS only (rediss://) with these certificate files; persistent: keep the data across restarts.
   */
  constructor(
    private readonly extraArgs: readonly string[] = [],
    public port = 0,
    readonly tls?: TlsFiles,
    options: { persistent?: boolean } = {},
  ) {
    if (options.persistent) this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-redis-'));
  }

  /** Started and not exited. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const ports = this.tls ? ['--port', '0', '--tls-port', String(this.port), ...redisTlsArgs(this.tls)] : ['--port', String(this.port)];
    const persistence = this.dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir] : ['--appendonly', 'no'];
    const child = spawn('redis-server', [...ports, '--bind', '127.0.0.1', '--save', '', ...persistence, ...this.extraArgs], { stdio: 'ignore' });
    this.child = trackChild(child);
    await waitFor(`redis-server on ${this.port}`, async () => {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, tls: tlsOptions(this.tls) });
      probe.on('error', () => {}); // refused until the server listens: that is what we wait for
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    });
    return this;
  }

  /** Stops the server and waits for it to exit; start() again brings it back on the same port. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** SIGSTOP: the server keeps its connections but answers nothing, like a Redis stuck or swapped out. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the server and removes its files. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1, tls: tlsOptions(this.tls) });
    client.on('error', () => {}); // outages are part of some tests; commands still reject
    return client;
  }
}

/** Publishes through herald's Redis function, as any client could (herald must have loaded it). Resolves to the seq. */
export async function fcallPublish(redis: Redis, topic: string, payload: string | Buffer): Promise<number | null> {
  return (await redis.call('FCALL', 'herald_publish', '1', topic, payload)) as number | null;
}

/** Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats. */
export async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** ioredis TLS options that trust the test CA. */
export function tlsOptions(tls?: TlsFiles): { ca: Buffer } | undefined {
  return tls ? { ca: fs.readFileSync(tls.ca) } : undefined;
}

/** A throwaway client to one server on 127.0.0.1; errors are expected while servers die. */
export function nodeClient(port: number, tls?: TlsFiles): Redis {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, tls: tlsOptions(tls) });
  client.on('error', () => {});
  return client;
}

/** One question to one server on a throwaway connection. */
export async function askNode<T>(port: number, fn: (client: Redis) => Promise<T>, tls?: TlsFiles): Promise<T> {
  const client = nodeClient(port, tls);
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}
