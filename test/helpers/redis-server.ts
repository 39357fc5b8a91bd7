import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { freePort, waitFor } from './ports';
import { trackChild } from './children';

/** A private redis-server on a free port, so tests never share state with each other or the machine's Redis. */
export class RedisServer {
  private child?: ChildProcess;

  /** extraArgs: more redis-server options (cluster mode, replicaof...); port 0 picks a free one at start. */
  constructor(
    private readonly extraArgs: readonly string[] = [],
    public port = 0,
  ) {}

  /** Started and not exited. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs], { stdio: 'ignore' });
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
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
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

/** A throwaway client to one server on 127.0.0.1; errors are expected while servers die. */
export function nodeClient(port: number): Redis {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  return client;
}

/** One question to one server on a throwaway connection. */
export async function askNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = nodeClient(port);
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}
