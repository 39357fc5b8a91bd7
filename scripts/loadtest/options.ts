// Command-line options of the load client and their validation.
import fs from 'node:fs';
import { choiceOption, listOption, numberOption, parseCli, stringOption, UsageError } from '../lib/cli';
export interface Target {
  url: string;
  host: string;
  port: number;
  hostHeader: string;
  path: string;
  /** wss:// */
  tls: boolean;
}

export interface LoadOptions {
  urls: string[];
  connections: number;
  sourceIps: string[];
  rate: number;
  maxPending: number;
  perProcess: number;
  connectTimeoutMs: number;
  retries: number;
  protocol: 'ws' | 'socketio';
  duration: number;
  publishVia: string | null;
  publishCount: number;
  publishInterval: number;
  /** seconds to wait for the last copies of the last broadcast */
  settle: number;
  apiKey: string | null;
  channel: string;
  topic: string;
  /** each connection also asks for its own topic: `{i}` becomes the connection's index (0..connections-1) */
  topicTemplate: string | null;
  out: string | null;
  html: string | null;
  quiet: boolean;
  /** progress lines on a non-terminal stderr: one per this many ms */
  progressIntervalMs: number;
  /** V8 old-space cap per client process (MB); 0 = derive from the per-process count */
  maxOldSpaceMb: number;
  /** file of the CA or self-signed certificate wss:// targets present (default: the system's CAs) */
  ca: string | null;
}

export const DEFAULTS: LoadOptions = {
  urls: ['ws://127.0.0.1:8080/ws'], connections: 1000, sourceIps: [], rate: 5000, maxPending: 1000,
  perProcess: 19000, connectTimeoutMs: 10000, retries: 5, protocol: 'ws', duration: 10,
  publishVia: null, publishCount: 0, publishInterval: 5, settle: 5, apiKey: null,
  channel: 'herald:broadcast', topic: 'broadcast', topicTemplate: null, out: null, html: null, quiet: false, progressIntervalMs: 2000, maxOldSpaceMb: 0, ca: null,
};

/** One process may hold ~19,000 sockets under the 20,000-file limit (fds for IPC, stdio...). */
export const MAX_PER_PROCESS = 19000;

export function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new UsageError(`only ws:// and wss:// URLs are supported: ${url}`);
  const tls = u.protocol === 'wss:';
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { url, host, port, hostHeader: u.host, path: (u.pathname || '/') + u.search, tls };
}

/** "127.0.0.2-127.0.0.41,127.0.1.5" -> list of addresses (IPv4 ranges within one /24 or across). */
export function expandSourceIps(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [a, b] = part.split('-');
    if (!b) { out.push(a); continue; }
    const from = ipToInt(a), to = ipToInt(b.includes('.') ? b : a.replace(/\d+$/, b));
    if (to < from || to - from > 1 << 20) throw new UsageError(`bad source range ${part}`);
    for (let i = from; i <= to; i++) out.push(intToIp(i));
  }
  return out;
}

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new UsageError(`bad IPv4 address ${ip}`);
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}
function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const CLI_OPTIONS = {
  url: { type: 'string', short: 'u', multiple: true },
  connections: { type: 'string', short: 'c' },
  'source-ips': { type: 'string' },
  rate: { type: 'string' },
  'max-pending': { type: 'string' },
  'per-process': { type: 'string' },
  'connect-timeout': { type: 'string' },
  retries: { type: 'string' },
  protocol: { type: 'string' },
  duration: { type: 'string' },
  'publish-via': { type: 'string' },
  'publish-count': { type: 'string' },
  'publish-interval': { type: 'string' },
  'api-key': { type: 'string' },
  channel: { type: 'string' },
  topic: { type: 'string' },
  'topic-template': { type: 'string' },
  settle: { type: 'string' },
  out: { type: 'string' },
  html: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'progress-interval': { type: 'string' },
  'max-old-space': { type: 'string' },
  ca: { type: 'string' },
} as const;

/** Options from the command line (node:util parseArgs); -h prints USAGE and exits. */
export function parseLoadArgs(argv: string[]): LoadOptions {
  const { values: v, positionals } = parseCli(argv, CLI_OPTIONS, USAGE, true);
  const d = DEFAULTS;
  const urls = [...listOption(v, 'url', []), ...positionals.flatMap((p) => p.split(',').filter(Boolean))];
  const o: LoadOptions = {
    urls: urls.length ? urls : [...d.urls],
    connections: numberOption(v, 'connections', d.connections, { min: 1, integer: true }),
    sourceIps: v['source-ips'] === undefined ? [] : expandSourceIps(String(v['source-ips'])),
    rate: numberOption(v, 'rate', d.rate, { min: 0.001 }),
    maxPending: numberOption(v, 'max-pending', d.maxPending, { min: 1, integer: true }),
    perProcess: numberOption(v, 'per-process', d.perProcess, { min: 1, max: MAX_PER_PROCESS, integer: true }),
    connectTimeoutMs: numberOption(v, 'connect-timeout', d.connectTimeoutMs / 1000, { min: 0.001 }) * 1000,
    retries: numberOption(v, 'retries', d.retries, { integer: true }),
    protocol: choiceOption(v, 'protocol', ['ws', 'socketio'], d.protocol),
    duration: numberOption(v, 'duration', d.duration),
    publishVia: stringOption(v, 'publish-via', d.publishVia),
    publishCount: numberOption(v, 'publish-count', d.publishCount, { integer: true }),
    publishInterval: numberOption(v, 'publish-interval', d.publishInterval),
    settle: numberOption(v, 'settle', d.settle),
    apiKey: stringOption(v, 'api-key', d.apiKey),
    channel: stringOption(v, 'channel', d.channel),
    topic: stringOption(v, 'topic', d.topic),
    topicTemplate: stringOption(v, 'topic-template', d.topicTemplate),
    out: stringOption(v, 'out', d.out),
    html: stringOption(v, 'html', d.html),
    quiet: v.quiet === true,
    progressIntervalMs: numberOption(v, 'progress-interval', d.progressIntervalMs / 1000, { min: 0.05 }) * 1000,
    maxOldSpaceMb: numberOption(v, 'max-old-space', d.maxOldSpaceMb, { integer: true }),
    ca: stringOption(v, 'ca', d.ca),
  };
  return validate(o);
}

/** Checks what the library's callers may get wrong too (they build LoadOptions themselves). */
export function validate(o: LoadOptions): LoadOptions {
  o.urls.forEach(parseTarget);
  if (!Number.isInteger(o.connections) || o.connections < 1) throw new UsageError('--connections must be a positive integer');
  if (o.perProcess < 1 || o.perProcess > MAX_PER_PROCESS) throw new UsageError(`--per-process must be 1..${MAX_PER_PROCESS}`);
  if (o.rate <= 0) throw new UsageError('--rate must be > 0');
  if (o.maxPending < 1) throw new UsageError('--max-pending must be >= 1');
  if (o.publishCount > 0 && !o.publishVia) throw new UsageError('--publish-count needs --publish-via redis://... or http://...');
  if (o.ca !== null && !fs.existsSync(o.ca)) throw new UsageError(`--ca: no such file: ${o.ca}`);
  if (o.topicTemplate !== null && !/^[A-Za-z0-9_.:-]*\{i\}[A-Za-z0-9_.:-]*$/.test(o.topicTemplate)) {
    throw new UsageError(`--topic-template must hold {i} once, the rest of [A-Za-z0-9_.:-], e.g. user:{i}; got "${o.topicTemplate}"`);
  }
  return o;
}

export const USAGE = `usage: npm run loadtest -- [options] [ws://host:port/path ...]

Opens and holds WebSocket connections (in several client processes when one
cannot hold them all under the open-file limit), measures latency from the "t"
stamp of clock payloads ({"t":<microseconds>,"seq":N,...}, as published by
--publish-via or herald's clock) and prints a report. Ctrl-C ends the run early
and still prints the report; a second Ctrl-C stops at once.

  -u, --url U[,U2]        target URL(s), ws:// or wss://, connections spread round-robin (default ws://127.0.0.1:8080/ws)
  -c, --connections N     connections to open and hold (default 1000)
  --source-ips SPEC       local addresses to bind, e.g. 127.0.0.2-127.0.0.41 (~28k ports each)
  --rate R                new connections per second, total (default 5000)
  --max-pending P         cap on handshakes in flight, total (default 1000)
  --per-process K         connections per client process, max ${MAX_PER_PROCESS} (default ${MAX_PER_PROCESS})
  --connect-timeout S     seconds per attempt (default 10)
  --retries N             further attempts per connection, with backoff (default 5)
  --protocol ws|socketio  plain WebSocket (default) or Socket.IO (Engine.IO v4)
  --duration S            without publishing: hold connections S seconds after the ramp, then
                          report (default 10; 0 = until Ctrl-C or SIGTERM)
  --publish-via URL       redis://host:port (PUBLISH herald:broadcast) or http://host:port (POST /publish)
  --publish-count N       broadcasts to publish (needs --publish-via)
  --publish-interval S    seconds between them (default 5)
  --settle S              seconds to wait after the last broadcast (default 5)
  --api-key K             bearer token for --publish-via http
  --channel C             Redis channel for --publish-via redis (default herald:broadcast)
  --topic T               topic for --publish-via http (default broadcast)
  --topic-template T      each connection also asks for its own topic (?topics=...), {i} being its
                          index 0..N-1, e.g. user:{i}; payloads with "u":<i> then count as its own
                          messages (a "u" of another connection counts as misdelivered)
  --out FILE.json         write the full result as JSON
  --html FILE.html        write an HTML report with charts
  -q, --quiet             no progress output
  --progress-interval S   seconds between progress lines when stderr is not a terminal (default 2)
  --max-old-space MB      V8 old-space cap per client process (default: from --per-process)
  --ca FILE               PEM certificate(s) that wss:// servers must present (e.g. a self-signed one);
                          default: the system's CAs
  -h, --help              this text`;
