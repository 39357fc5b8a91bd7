// Command-line options of the load client and their validation.
export interface Target {
  url: string;
  host: string;
  port: number;
  hostHeader: string;
  path: string;
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
  out: string | null;
  html: string | null;
  quiet: boolean;
  /** V8 old-space cap per client process (MB); 0 = derive from the per-process count */
  maxOldSpaceMb: number;
}

export const DEFAULTS: LoadOptions = {
  urls: ['ws://127.0.0.1:8080/ws'], connections: 1000, sourceIps: [], rate: 5000, maxPending: 1000,
  perProcess: 19000, connectTimeoutMs: 10000, retries: 5, protocol: 'ws', duration: 10,
  publishVia: null, publishCount: 0, publishInterval: 5, settle: 5, apiKey: null,
  channel: 'herald:broadcast', topic: 'broadcast', out: null, html: null, quiet: false, maxOldSpaceMb: 0,
};

/** One process may hold ~19,000 sockets under the 20,000-file limit (fds for IPC, stdio...). */
export const MAX_PER_PROCESS = 19000;

export function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs are supported: ${url}`);
  const port = u.port ? Number(u.port) : 80;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { url, host, port, hostHeader: u.host, path: (u.pathname || '/') + u.search };
}

/** "127.0.0.2-127.0.0.41,127.0.1.5" -> list of addresses (IPv4 ranges within one /24 or across). */
export function expandSourceIps(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [a, b] = part.split('-');
    if (!b) { out.push(a); continue; }
    const from = ipToInt(a), to = ipToInt(b.includes('.') ? b : a.replace(/\d+$/, b));
    if (to < from || to - from > 1 << 20) throw new Error(`bad source range ${part}`);
    for (let i = from; i <= to; i++) out.push(intToIp(i));
  }
  return out;
}

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${ip}`);
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}
function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const NUMERIC: Record<string, keyof LoadOptions> = {
  '--connections': 'connections', '-c': 'connections', '--rate': 'rate', '--max-pending': 'maxPending',
  '--per-process': 'perProcess', '--retries': 'retries', '--duration': 'duration', '--publish-count': 'publishCount',
  '--publish-interval': 'publishInterval', '--settle': 'settle', '--max-old-space': 'maxOldSpaceMb',
};

export function parseArgs(argv: string[]): LoadOptions {
  const o: LoadOptions = { ...DEFAULTS, urls: [] };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => { const v = inline ?? argv[++i]; if (v === undefined) throw new Error(`${flag} needs a value`); return v; };
    if (NUMERIC[flag]) { (o as unknown as Record<string, number>)[NUMERIC[flag]] = num(flag, val()); continue; }
    switch (flag) {
      case '--url': case '-u': o.urls.push(...val().split(',')); break;
      case '--source-ips': o.sourceIps = expandSourceIps(val()); break;
      case '--connect-timeout': o.connectTimeoutMs = num(flag, val()) * 1000; break;
      case '--protocol': { const p = val(); if (p !== 'ws' && p !== 'socketio') throw new Error('--protocol ws|socketio'); o.protocol = p; break; }
      case '--publish-via': o.publishVia = val(); break;
      case '--api-key': o.apiKey = val(); break;
      case '--channel': o.channel = val(); break;
      case '--topic': o.topic = val(); break;
      case '--out': o.out = val(); break;
      case '--html': o.html = val(); break;
      case '--quiet': case '-q': o.quiet = true; break;
      default:
        if (!a.startsWith('-')) o.urls.push(...a.split(','));
        else throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.urls.length) o.urls = [...DEFAULTS.urls];
  return validate(o);
}

export function validate(o: LoadOptions): LoadOptions {
  o.urls.forEach(parseTarget);
  if (!Number.isInteger(o.connections) || o.connections < 1) throw new Error('--connections must be a positive integer');
  if (o.perProcess < 1 || o.perProcess > MAX_PER_PROCESS) throw new Error(`--per-process must be 1..${MAX_PER_PROCESS}`);
  if (o.rate <= 0) throw new Error('--rate must be > 0');
  if (o.maxPending < 1) throw new Error('--max-pending must be >= 1');
  if (o.publishCount > 0 && !o.publishVia) throw new Error('--publish-count needs --publish-via redis://... or http://...');
  return o;
}

export const USAGE = `usage: npm run loadtest -- [options] [ws://host:port/path ...]
  --url U[,U2]            target URL(s), connections spread round-robin (default ws://127.0.0.1:8080/ws)
  -c, --connections N     connections to open and hold (default 1000)
  --source-ips SPEC       local addresses to bind, e.g. 127.0.0.2-127.0.0.41 (~28k ports each)
  --rate R                new connections per second, total (default 5000)
  --max-pending P         cap on handshakes in flight, total (default 1000)
  --per-process K         connections per client process, max ${MAX_PER_PROCESS} (default ${MAX_PER_PROCESS})
  --connect-timeout S     seconds per attempt (default 10); --retries N with backoff (default 5)
  --protocol ws|socketio  plain WebSocket (default) or Socket.IO (Engine.IO v4)
  --duration S            without publishing: hold connections S seconds, then report (default 10)
  --publish-via URL       redis://host:port (PUBLISH herald:broadcast) or http://host:port (POST /publish)
  --publish-count N --publish-interval S   broadcasts to send and seconds between them
  --api-key K             bearer token for --publish-via http
  --settle S              seconds to wait after the last broadcast (default 5)
  --out FILE.json --html FILE.html   write the full result and an HTML report
  --quiet                 no progress output`;
