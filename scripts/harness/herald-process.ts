import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { trackChild } from './children';
import { freePort, waitFor } from './ports';

export const PRIMARY = path.join(__dirname, '..', '..', 'workers', 'primary.js');

export interface HeraldOptions {
  env?: Record<string, string>;
  /** Prefix command, e.g. ['bash', '-c', 'ulimit -n 300 && exec "$0" "$@"'] to lower a limit. */
  wrap?: string[];
  waitHealthy?: boolean;
}

/** A real herald (primary + workers) as a child process, on free ports. */
export class HeraldProcess {
  child!: ChildProcess;
  port = 0;
  adminPort = 0;
  output = '';
  private exited?: Promise<number | null>;

  constructor(private readonly options: HeraldOptions = {}) {}

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** wss:// on the name the test certificates are made for (scripts/harness/tls-certs.ts). */
  get wssUrl(): string {
    return `wss://localhost:${this.port}/ws`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    this.adminPort = await freePort();
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      HERALD_WORKERS: '2',
      HERALD_HOST: '127.0.0.1',
      HERALD_PORT: String(this.port),
      HERALD_ADMIN_PORT: String(this.adminPort),
      HERALD_LOG_LEVEL: 'info',
      ...this.options.env,
    };
    const [cmd, ...args] = [...(this.options.wrap ?? []), process.execPath, PRIMARY];
    this.child = trackChild(spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    if (this.options.waitHealthy !== false) {
      await waitFor('herald healthy', async () => {
        if (this.child.exitCode !== null) throw new Error(`herald exited with ${this.child.exitCode}: ${this.output}`);
        return (await this.health()).status === 200;
      }, 15_000, 100);
    }
    return this;
  }

  async health(): Promise<{ status: number; body: { status: string; reasons: string[] } }> {
    const res = await fetch(`${this.adminUrl}/health`);
    return { status: res.status, body: (await res.json()) as { status: string; reasons: string[] } };
  }

  async stats(): Promise<StatsBody> {
    return (await fetch(`${this.adminUrl}/stats`)).json() as Promise<StatsBody>;
  }

  async publish(topic: string, payload: string | Buffer, apiKey?: string): Promise<Response> {
    return fetch(`${this.adminUrl}/publish?topic=${encodeURIComponent(topic)}`, {
      method: 'POST',
      body: payload,
      headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
    });
  }

  /**
   * POST /publish until herald takes the message (503 while the broker is down, or a
   * connection reset); resolves with its seq. A retry may publish twice: callers
   * check seqs, which stay contiguous either way.
   */
  async publishSeq(topic: string, payload: string, apiKey?: string, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      const res = await this.publish(topic, payload, apiKey).catch((err: Error) => void (last = err.message));
      if (res?.status === 202) return ((await res.json()) as { seq: number }).seq;
      if (res) last = `HTTP ${res.status}: ${await res.text()}`;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`publish to ${topic} not taken within ${timeoutMs} ms (${last}); herald exit code ${this.child.exitCode}: ${this.output.slice(-3000)}`);
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited!;
    clearTimeout(timer);
    return code;
  }

  waitExit(): Promise<number | null> {
    return this.exited!;
  }
}

export interface StatsBody {
  healthy: boolean;
  connections: number;
  messagesReceived: number;
  messagesDelivered: number;
  slowConsumerCloses: number;
  perWorker: { id: number; pid: number; up: boolean; connections: number; broker?: string; stats?: Record<string, unknown> }[];
}
