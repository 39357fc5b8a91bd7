/**
 * Smoke check for the benchmark peers (not part of the regular test suite).
 *
 *   npx tsc -p . && node dist/scripts/bench/peers/smoke.js [--peer ws,socketio,netty,uws-bare]
 *       [--connections 200] [--processes 2] [--no-kill-test]
 *
 * For each peer: starts its own redis-server on a free port, starts the peer with
 * K processes, opens N WebSocket connections (Socket.IO spoken by hand over
 * Engine.IO), publishes 3 messages on herald:broadcast (plain text, UTF-8 text
 * with multi-byte characters, and bytes that are not UTF-8) and checks every
 * client got every one, byte for byte and with the right frame type. Reports
 * summed RSS of the server processes before/after the connections, and how the
 * connections spread over the processes. Then SIGKILLs one server process and
 * checks the launcher takes all the others down with it. Exits non-zero on any
 * failure.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { listOption, numberOption, parseCli, parseOrExit, UsageError } from '../../lib/cli';
import { BROADCAST_CHANNEL } from './common';
import { PEERS, PeerSpec } from './peers';

const HOST = '127.0.0.1';

const MESSAGES: Array<{ data: Buffer; binary: boolean }> = [
  { data: Buffer.from('hello from herald smoke'), binary: false },
  { data: Buffer.from(JSON.stringify({ n: 2, text: 'héllo wörld ✓ 🚀' })), binary: false },
  { data: Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41, 0xc3]), binary: true },
];

interface Args {
  peers: string[];
  connections: number;
  processes: number;
  killTest: boolean;
}

const USAGE = `usage: node dist/scripts/bench/peers/smoke.js [--peer ${Object.keys(PEERS).join(',')}] [--connections 200] [--processes 2] [--no-kill-test]

Checks each benchmark peer: N clients get 3 broadcasts byte for byte with the right
frame type, then one server process is killed and the launcher must take the rest down.`;

function parseArgs(): Args {
  return parseOrExit('smoke', () => parseSmokeArgs());
}

function parseSmokeArgs(): Args {
  const { values: v } = parseCli(process.argv.slice(2), {
    peer: { type: 'string' }, connections: { type: 'string' }, processes: { type: 'string' }, 'no-kill-test': { type: 'boolean' },
  }, USAGE);
  const peers = listOption(v, 'peer', Object.keys(PEERS));
  for (const p of peers) if (!PEERS[p]) throw new UsageError(`--peer: unknown peer ${p} (${Object.keys(PEERS).join(', ')})`);
  return {
    peers,
    connections: numberOption(v, 'connections', 200, { min: 1, integer: true }),
    processes: numberOption(v, 'processes', 2, { min: 1, integer: true }),
    killTest: v['no-kill-test'] !== true,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, HOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Open sockets of a process: the connections it holds, plus a few of its own (listen, Redis, IPC). */
function socketCount(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      /* fd closed meanwhile */
    }
  }
  return n;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

interface Started {
  proc: ChildProcess;
  pids: number[];
  supervisorPid: number;
}

async function startPeer(peer: PeerSpec, port: number, redisUrl: string, processes: number): Promise<Started> {
  const proc = spawn(
    process.execPath,
    [peer.launcher, '--port', String(port), '--redis', redisUrl, '--processes', String(processes)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${peer.name}: not ready within 60 s`)), 60_000);
    proc.once('exit', (code) => reject(new Error(`${peer.name}: launcher exited (${code}) before ready`)));
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; pids: number[]; supervisorPid: number };
        if (msg.ready) {
          clearTimeout(timer);
          resolve({ proc, pids: msg.pids, supervisorPid: msg.supervisorPid });
        }
      } catch {
        process.stderr.write(`[${peer.name}] ${line}\n`);
      }
    });
  });
}

async function stopPeer(s: Started): Promise<boolean> {
  const exited = new Promise<void>((r) => (s.proc.exitCode !== null ? r() : s.proc.once('exit', () => r())));
  s.proc.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  return waitFor(() => ![...s.pids, s.supervisorPid].some(alive), 5000);
}

/** One client: resolves when it may receive broadcasts; collects what arrives. */
class Client {
  received: Array<{ data: Buffer; binary: boolean }> = [];
  errors: string[] = [];
  private ws: WebSocket;
  private awaitingAttachment = false;

  constructor(peer: PeerSpec, port: number, onReady: () => void) {
    this.ws = new WebSocket(peer.url(HOST, port), { perMessageDeflate: false });
    this.ws.on('error', (e) => this.errors.push(e.message));
    if (peer.protocol === 'ws') {
      this.ws.on('open', onReady);
      this.ws.on('message', (data: Buffer, isBinary) => this.received.push({ data, binary: isBinary }));
    } else {
      this.ws.on('message', (data: Buffer, isBinary) => this.onEngineIo(data, isBinary, onReady));
    }
  }

  /** The few Engine.IO / Socket.IO packets a broadcast receiver meets. */
  private onEngineIo(data: Buffer, isBinary: boolean, onReady: () => void): void {
    if (isBinary) {
      // The attachment that follows `451-["message",{"_placeholder":true,"num":0}]`.
      if (this.awaitingAttachment) this.received.push({ data, binary: true });
      this.awaitingAttachment = false;
      return;
    }
    const s = data.toString('utf8');
    if (s.startsWith('0{')) this.ws.send('40'); // Engine.IO open -> Socket.IO connect to "/"
    else if (s.startsWith('40')) onReady(); // Socket.IO connected
    else if (s === '2') this.ws.send('3'); // ping -> pong
    else if (s.startsWith('42')) {
      const [event, payload] = JSON.parse(s.slice(2)) as [string, string];
      if (event === 'message') this.received.push({ data: Buffer.from(payload, 'utf8'), binary: false });
    } else if (s.startsWith('451-')) this.awaitingAttachment = true;
    else this.errors.push(`unexpected packet ${s.slice(0, 40)}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

async function connectAll(peer: PeerSpec, port: number, n: number): Promise<Client[]> {
  const clients: Client[] = [];
  const concurrency = 50; // modest, so the ramp never trips a listen backlog
  for (let i = 0; i < n; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, n - i) }, () => {
      let client!: Client;
      const ready = new Promise<void>((resolve, reject) => {
        client = new Client(peer, port, resolve);
        setTimeout(() => reject(new Error(`${peer.name}: connection not ready in 10 s`)), 10_000).unref();
      });
      clients.push(client);
      return ready;
    });
    await Promise.all(batch);
  }
  return clients;
}

function checkReceived(c: Client): string | null {
  if (c.received.length !== MESSAGES.length) return `got ${c.received.length}/${MESSAGES.length} messages`;
  for (let i = 0; i < MESSAGES.length; i++) {
    const want = MESSAGES[i];
    const got = c.received[i];
    if (!got.data.equals(want.data)) return `message ${i}: bytes differ`;
    if (got.binary !== want.binary) return `message ${i}: ${got.binary ? 'binary' : 'text'} frame`;
  }
  return null;
}

async function smokePeer(peer: PeerSpec, args: Args, redisUrl: string, pub: Redis): Promise<Record<string, unknown>> {
  const port = await freePort();
  const t0 = Date.now();
  const started = await startPeer(peer, port, redisUrl, args.processes);
  const startMs = Date.now() - t0;
  await sleep(500); // let startup allocations settle before the baseline
  const rssBefore = started.pids.reduce((s, p) => s + rssKb(p), 0);
  const socketsBefore = started.pids.map(socketCount);

  const t1 = Date.now();
  const clients = await connectAll(peer, port, args.connections);
  const connectMs = Date.now() - t1;
  await sleep(500);
  const rssAfter = started.pids.reduce((s, p) => s + rssKb(p), 0);
  const perProcess = started.pids.map((p, i) => socketCount(p) - socketsBefore[i]);

  for (const m of MESSAGES) await pub.publish(BROADCAST_CHANNEL, m.data);
  const all = await waitFor(() => clients.every((c) => c.received.length >= MESSAGES.length), 10_000);
  await sleep(200); // catch duplicates, if any
  const failures = clients.map(checkReceived).filter((f): f is string => f !== null);
  const clientErrors = clients.flatMap((c) => c.errors);
  const delivered = clients.reduce((s, c) => s + c.received.length, 0);
  clients.forEach((c) => c.close());

  const workerPids = started.pids.filter((p) => p !== started.supervisorPid);
  const spread = workerPids.map((p) => perProcess[started.pids.indexOf(p)]);
  const stoppedCleanly = await stopPeer(started);

  let killTest: string | undefined;
  if (args.killTest) {
    // A dying server process must take the whole peer down, leaving nothing behind.
    const again = await startPeer(peer, await freePort(), redisUrl, args.processes);
    const victim = again.pids.find((p) => p !== again.supervisorPid)!;
    process.kill(victim, 'SIGKILL');
    const gone = await waitFor(() => ![...again.pids, again.supervisorPid].some(alive), 15_000);
    killTest = gone ? 'ok' : `left behind: ${[...again.pids, again.supervisorPid].filter(alive).join(',')}`;
    if (!gone) await stopPeer(again);
  }

  const ok =
    all &&
    failures.length === 0 &&
    clientErrors.length === 0 &&
    stoppedCleanly &&
    spread.every((n) => n > 0) &&
    (killTest === undefined || killTest === 'ok');
  return {
    peer: peer.name,
    ok,
    processes: args.processes,
    serverPids: started.pids.length,
    connections: clients.length,
    connectionsPerWorker: spread,
    delivered: `${delivered}/${clients.length * MESSAGES.length}`,
    failures: failures.length ? [...new Set(failures)].slice(0, 3) : undefined,
    clientErrors: clientErrors.length ? [...new Set(clientErrors)].slice(0, 3) : undefined,
    startMs,
    connectMs,
    rssBeforeMiB: +(rssBefore / 1024).toFixed(1),
    rssAfterMiB: +(rssAfter / 1024).toFixed(1),
    rssPerConnKiB: +((rssAfter - rssBefore) / clients.length).toFixed(2),
    stoppedCleanly,
    killTest,
  };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const redisUrl = `redis://${HOST}:${redisPort}`;
  const pub = new Redis(redisUrl, { retryStrategy: (n) => (n < 50 ? 100 : null) });
  pub.on('error', () => undefined); // refused until redis-server is up; ping() below waits
  let failed = false;
  try {
    await pub.ping();
    for (const name of args.peers) {
      const peer = PEERS[name];
      if (!peer) throw new Error(`unknown peer ${name}; known: ${Object.keys(PEERS).join(', ')}`);
      try {
        const result = await smokePeer(peer, args, redisUrl, pub);
        failed ||= !result.ok;
        console.log(JSON.stringify(result));
      } catch (err) {
        failed = true;
        console.log(JSON.stringify({ peer: name, ok: false, error: (err as Error).message }));
      }
    }
  } finally {
    pub.disconnect();
    const redisExited = new Promise((r) => redis.once('exit', r));
    redis.kill('SIGTERM');
    await Promise.race([redisExited, sleep(5000)]);
  }
  process.exit(failed ? 1 : 0);
}

void main();
