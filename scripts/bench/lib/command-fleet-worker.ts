/**
 * One client process of a command benchmark (see command-fleet.ts): holds
 * WebSocket connections to herald and, when told, sends subscribe and
 * unsubscribe commands at a steady rate, timing each reply. Talks to its
 * parent over IPC; exits when the parent goes.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';

export type JoinMode = 'raw' | 'envelope' | 'command';

export type FleetRequest =
  | { type: 'open'; url: string; count: number; mode: JoinMode; rooms: number; first: number; secret?: string; users: number; concurrency: number; sourceBlock: number }
  | { type: 'churn'; perSecond: number; seconds: number; topics: number; prefix: string; connections: number }
  | { type: 'close' };

export type FleetReport =
  | { type: 'opened'; connections: number; errors: number; joinErrors: number }
  | { type: 'churned'; sent: number; replies: number; codes: Record<string, number>; latenciesMs: number[] };

interface Held {
  ws: WebSocket;
  extra?: string;
}

const held: Held[] = [];
/** Command id -> when it was sent (ms), and who waits for its reply. */
const sentAt = new Map<number, { at: number; done?: (ok: boolean) => void }>();
let nextId = 1;
let replies = 0;
let codes: Record<string, number> = {};
let latencies: number[] = [];

const send = (msg: FleetReport) => process.send?.(msg);

function onFrame(data: WebSocket.RawData): void {
  const text = data.toString();
  if (!text.startsWith('{"type":"reply"')) return;
  const reply = JSON.parse(text) as { id: number; ok: boolean; error?: { code: string } };
  const sent = sentAt.get(reply.id);
  if (sent === undefined) return;
  sentAt.delete(reply.id);
  replies++;
  latencies.push(performance.now() - sent.at);
  const code = reply.ok ? 'ok' : reply.error!.code;
  codes[code] = (codes[code] ?? 0) + 1;
  sent.done?.(reply.ok);
}

function command(h: Held, body: object, done?: (ok: boolean) => void): void {
  const id = nextId++;
  sentAt.set(id, { at: performance.now(), done });
  h.ws.send(JSON.stringify({ id, ...body }));
}

/**
 * Connections per loopback source address: a socket bound to an address takes
 * an ephemeral port that no other socket on it holds, TIME_WAIT ones of an
 * earlier run included, out of about 28,000.
 */
const PER_SOURCE = 10_000;

/** Connection i's source address, 127.<block>.x.y: each run takes its own block, so earlier runs' TIME_WAIT ports are elsewhere. */
function sourceAddress(block: number, i: number): string {
  const n = Math.floor(i / PER_SOURCE);
  return `127.${block}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}

async function openOne(url: string, source: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: source });
    ws.once('open', () => resolve({ ws }));
    ws.once('error', reject);
    ws.on('message', onFrame);
  });
}

async function open(req: Extract<FleetRequest, { type: 'open' }>): Promise<void> {
  let errors = 0;
  let joinErrors = 0;
  let next = 0;
  const lane = async () => {
    while (next < req.count) {
      const i = req.first + next++;
      const room = `room:${i % req.rooms}`;
      const q = new URLSearchParams(req.mode === 'raw' ? { topics: room } : req.mode === 'envelope' ? { format: 'envelope', topics: room } : { format: 'envelope' });
      if (req.secret) q.set('token', await new SignJWT({ sub: `u${i % req.users}` }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h').sign(new TextEncoder().encode(req.secret)));
      try {
        const h = await openOne(`${req.url}?${q}`, sourceAddress(req.sourceBlock, i));
        held.push(h);
        if (req.mode === 'command') {
          if (!(await new Promise<boolean>((resolve) => command(h, { op: 'subscribe', topic: room }, resolve)))) joinErrors++;
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.count) }, lane));
  send({ type: 'opened', connections: held.length, errors, joinErrors });
}

/** Alternates subscribe and unsubscribe of a random extra topic on the first `connections` sockets, round robin. */
async function churn(req: Extract<FleetRequest, { type: 'churn' }>): Promise<void> {
  replies = 0;
  codes = {};
  latencies = [];
  const targets = held.slice(0, req.connections);
  let sent = 0;
  let owed = 0;
  let cursor = 0;
  const tickMs = 10;
  const ticks = (req.seconds * 1000) / tickMs;
  for (let t = 0; t < ticks && targets.length > 0; t++) {
    owed += (req.perSecond * tickMs) / 1000;
    for (; owed >= 1; owed--, sent++) {
      const h = targets[cursor++ % targets.length];
      if (h.extra) {
        command(h, { op: 'unsubscribe', topic: h.extra });
        h.extra = undefined;
      } else {
        h.extra = `${req.prefix}${Math.floor(Math.random() * req.topics)}`;
        command(h, { op: 'subscribe', topic: h.extra });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  const deadline = Date.now() + 10_000;
  while (replies < sent && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  send({ type: 'churned', sent, replies, codes, latenciesMs: latencies });
}

process.on('message', (req: FleetRequest) => {
  if (req.type === 'open') void open(req);
  else if (req.type === 'churn') void churn(req);
  else {
    for (const h of held) h.ws.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
