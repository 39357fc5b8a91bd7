import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, waitFor } from './ports';
import { trackChild } from './children';

/** A private redis-server on a free port, so tests never share state with each other or the machine's Redis. */
export class RedisServer {
  private child?: ChildProcess;
  port = 0;
  /** With `persistent`, every write goes to an append-only file (fsync always), so a restart keeps the data. */
  private readonly dir?: string;

  constructor(options: { persistent?: boolean } = {}) {
    if (options.persistent) this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-redis-'));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const persistence = this.dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir] : ['--appendonly', 'no'];
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
    this.child = trackChild(child);
    await waitFor(`redis-server on ${this.port}`, async () => {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Stops the server and removes its files. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGSTOP freezes the server (connections stay open, nothing is answered); SIGCONT thaws it. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {}); // outages are part of some tests; commands still reject
    return client;
  }
}

/** Publishes through herald's Redis function, as any client could (herald must have loaded it). Resolves to the seq. */
export async function fcallPublish(redis: Redis, topic: string, payload: string | Buffer): Promise<number | null> {
  return (await redis.call('FCALL', 'herald_publish', '1', topic, payload)) as number | null;
}
