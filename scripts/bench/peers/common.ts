/**
 * Shared plumbing for the benchmark peer servers (issue 4): argument parsing,
 * the Redis subscription every peer makes, and a supervisor that starts K
 * server processes, announces readiness once all of them listen, and never
 * leaves a process behind.
 *
 * Not part of the regular test suite; used by scripts/bench only.
 */
import type { ChildProcess } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import Redis from 'ioredis';
import { parseCli, parseOrExit, stringOption, toNumber } from '../../lib/cli';

/** The Redis channel every server under comparison subscribes to. */
export const BROADCAST_CHANNEL = 'herald:broadcast';

export interface PeerOptions {
  port: number;
  host: string;
  redis: string;
  processes: number;
  /** uws-bare only: idle timeout in seconds with automatic pings; 0 = none */
  idleTimeout: number;
}

const PEER_USAGE = `usage: node dist/scripts/bench/peers/<peer>-server.js [--port P] [--redis URL] [--processes K] [--host H]

A benchmark peer: K server processes on one port (WebSocket path /ws), each
subscribed to the Redis channel herald:broadcast. Prints one JSON ready line once
all of them listen; stops them all on SIGTERM/SIGINT.

  --port P          port to listen on (env PORT, default 9001)
  --redis URL       Redis to subscribe to (env REDIS_URL, default redis://127.0.0.1:6379)
  --processes K     server processes (env PROCESSES, default 2)
  --host H          address to listen on (env HOST, default 127.0.0.1: benchmarks use loopback only)
  --idle-timeout S  uws-bare only: close idle connections after S seconds, pinging before (default 0: none)
  -h, --help        this text`;

/**
 * `--port P --redis URL --processes K [--host H]` (node:util parseArgs), falling
 * back to the env vars PORT, REDIS_URL, PROCESSES, HOST.
 */
export function parsePeerArgs(argv = process.argv.slice(2), env = process.env): PeerOptions {
  return parseOrExit('peer', () => {
    const { values: v } = parseCli(argv, {
      port: { type: 'string' }, redis: { type: 'string' }, processes: { type: 'string' }, host: { type: 'string' }, 'idle-timeout': { type: 'string' },
    }, PEER_USAGE);
    return {
      port: toNumber('--port', stringOption(v, 'port', env.PORT ?? '9001'), { min: 1, max: 65535, integer: true }),
      processes: toNumber('--processes', stringOption(v, 'processes', env.PROCESSES ?? '2'), { min: 1, integer: true }),
      host: stringOption(v, 'host', env.HOST ?? '127.0.0.1'),
      redis: stringOption(v, 'redis', env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
      idleTimeout: toNumber('--idle-timeout', stringOption(v, 'idle-timeout', '0'), { min: 0, max: 960, integer: true }),
    };
  });
}

/**
 * Subscribes to the broadcast channel and hands every message over as the raw
 * bytes that were published, plus whether they are valid UTF-8 (text frame) or
 * not (binary frame). Resolves once the subscription is confirmed by Redis, so
 * a "ready" peer never misses a message published after it said so.
 */
export async function subscribeBroadcast(
  url: string,
  onMessage: (data: Buffer, isText: boolean) => void,
): Promise<Redis> {
  const sub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  // 'messageBuffer' rather than 'message': the payload must reach clients byte
  // for byte, and a string round trip would mangle anything that is not UTF-8.
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    onMessage(message, isUtf8(message));
  });
  sub.on('error', (err) => console.error(`[peer ${process.pid}] redis: ${err.message}`));
  await sub.connect();
  await sub.subscribe(BROADCAST_CHANNEL);
  return sub;
}

/**
 * For child server processes: exit when the supervisor goes away, even if it
 * was SIGKILLed and could not tell us (the IPC channel closes with it).
 */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

/** For child server processes: tell the supervisor this process listens and is subscribed. */
export function reportReady(): void {
  if (process.send) process.send({ ready: true });
}

/** What the supervisor needs of a server process, whichever way it was started. */
export interface ChildHandle {
  pid: number;
  /** Resolves when the process reports that it listens and is subscribed. */
  ready: Promise<void>;
  /** Resolves when the process has exited, with a short description. */
  exited: Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/** Adapts a Node child (child_process.fork or cluster worker's .process) that reports ready over IPC. */
export function ipcChild(child: ChildProcess): ChildHandle {
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (msg: unknown) => {
      if (msg && typeof msg === 'object' && (msg as { ready?: unknown }).ready === true) resolve();
    });
    void exited.then((how) => reject(new Error(`process ${child.pid} exited before ready (${how})`)));
  });
  ready.catch(() => undefined); // reported through the supervisor, not as an unhandled rejection
  return { pid: child.pid!, ready, exited, kill: (sig) => void child.kill(sig) };
}

export interface SuperviseOptions {
  peer: string;
  opts: PeerOptions;
  children: ChildHandle[];
  /**
   * Processes whose memory and CPU count as "the server". For cluster peers the
   * primary accepts every connection and hands it to a worker, so it is part of
   * the server; for SO_REUSEPORT peers the supervisor only waits, so it is not.
   */
  includeSelf: boolean;
}

/**
 * Waits for every child to be ready, prints one JSON ready line on stdout, then
 * keeps them running. On SIGTERM/SIGINT, or if any child dies, stops all of them
 * (SIGTERM, then SIGKILL after 5 s) and exits: nothing is ever left behind.
 */
export function supervise({ peer, opts, children, includeSelf }: SuperviseOptions): void {
  let stopping = false;

  const stop = async (reason: string, code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      if (code !== 0) console.error(`[${peer}] stopping: ${reason}`);
      for (const c of children) c.kill('SIGTERM');
      const killer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 5000);
      await Promise.all(children.map((c) => c.exited));
      clearTimeout(killer);
      process.exit(code);
    }
    return new Promise<never>(() => undefined);
  };

  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  // If our own stdout goes away (harness died), do not linger.
  process.stdout.on('error', () => void stop('stdout closed', 1));
  for (const c of children) {
    void c.exited.then((how) => stop(`process ${c.pid} exited (${how})`, 1));
  }

  Promise.all(children.map((c) => c.ready)).then(
    () => {
      const pids = children.map((c) => c.pid);
      const line = {
        ready: true,
        peer,
        port: opts.port,
        processes: children.length,
        pids: includeSelf ? [process.pid, ...pids] : pids,
        supervisorPid: process.pid,
      };
      process.stdout.write(JSON.stringify(line) + '\n');
    },
    (err: Error) => void stop(err.message, 1),
  );
}
