/**
 * Seeded generators for the fuzz tests: the same seed gives the same inputs, so a failure
 * reproduces with HERALD_FUZZ_SEED=<seed printed in the failure>.
 */

export const FUZZ_SEED = Number(process.env.HERALD_FUZZ_SEED ?? 20261126);

/** mulberry32: small, fast, good enough to spread test inputs. */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }
}

/** Pieces a request target is built from: the ones that broke parsers before, and plain ones. */
const TARGET_PIECES = [
  '/', '/ws', '/ws/', '/publish', '/health', '/stats', '/metrics', '//', '/..', '/./', '?', '&', '=', '#', '%', '%zz', '%2', '%FF',
  '%00', '%2C', '%C3%A9', '%ED%A0%80', '+', ',', ':', '@', '[', ']', '[::1]', '*', ';', 'topics=', 'topic=', 'since=', 'format=envelope',
  'format=raw', 'token=', 'broadcast', 'a,b', 'x'.repeat(129), 'é', '\u00ff', '日本', 'http://', 'http://:80', 'http://a:99999', '//a:1/',
  'broadcast:1', 'user:42', '%2F', '%25', '%%', '?topics=a&topics=b', '\\',
];

const QUERY_NAMES = ['topics', 'topics', 'format', 'since', 'token', 'x', '', '%zz', 'topic'];
const QUERY_VALUES = ['a', 'a,b', 'broadcast', 'user:42', 'a,,b', 'bad name', 'x'.repeat(129), '%zz', '%2C', 'a%2Cb', '%FF', 'envelope', 'raw', 'broadcast:0', 'a:1,b:2', '', '+', 'é', '%00'];

/** The WebSocket endpoint with a fuzzed query: known parameters, repeats, bad escapes. */
function wsTarget(rng: Rng): string {
  const params = Array.from({ length: rng.int(4) }, () => `${rng.pick(QUERY_NAMES)}=${Array.from({ length: 1 + rng.int(2) }, () => rng.pick(QUERY_VALUES)).join('')}`);
  return params.length === 0 ? '/ws' : `/ws?${params.join('&')}`;
}

/** A request target: mostly origin form, sometimes absolute form or something else entirely. */
export function requestTarget(rng: Rng): string {
  const n = 1 + rng.int(6);
  let target = Array.from({ length: n }, () => rng.pick(TARGET_PIECES)).join('');
  if (rng.chance(0.8) && !target.startsWith('/')) target = `/${target}`;
  return target;
}

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'BREW'];

const HEADER_VALUES: Record<string, readonly string[]> = {
  Upgrade: ['websocket', 'WebSocket', 'h2c', 'websocket, h2c', '', 'web socket', 'websocket\t'],
  Connection: ['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close', 'keep-alive', ''],
  'Sec-WebSocket-Key': ['dGhlIHNhbXBsZSBub25jZQ==', 'short', '', 'dGhlIHNhbXBsZSBub25jZQ', '!!!!!!!!!!!!!!!!!!!!!!=='],
  'Sec-WebSocket-Version': ['13', '8', '', '13, 8', '0013', 'x'],
  'Sec-WebSocket-Protocol': ['herald', 'a, b', 'a.b.c', 'herald, eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.x', ','],
  'Sec-WebSocket-Extensions': ['permessage-deflate', 'permessage-deflate; client_max_window_bits', 'x; y=z', ''],
  Authorization: ['Bearer k', 'Bearer', 'Basic Zm9vOmJhcg==', ''],
  Expect: ['100-continue', 'nothing'],
  Origin: ['http://example.com', 'null', ''],
  Cookie: ['a=b', ';;;', 'x'.repeat(2000)],
};

/** A well-framed HTTP/1.1 request (request line, headers, a body that matches its length) with fuzzed contents. */
export function httpRequest(rng: Rng, opts: { upgradeBias?: boolean } = {}): string {
  const handshake = opts.upgradeBias === true && rng.chance(0.5);
  const method = handshake && rng.chance(0.8) ? 'GET' : rng.pick(METHODS);
  const target = handshake ? wsTarget(rng) : requestTarget(rng);
  const headers: [string, string][] = [['Host', rng.chance(0.9) ? 'x' : '']];
  if (opts.upgradeBias && rng.chance(0.7)) {
    headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']);
  }
  for (const name of Object.keys(HEADER_VALUES)) {
    if (rng.chance(0.25)) headers.push([rng.chance(0.2) ? name.toLowerCase() : name, rng.pick(HEADER_VALUES[name])]);
  }
  for (let i = rng.int(3); i > 0; i--) headers.push([`X-Fuzz-${rng.int(1000)}`, rng.bytes(rng.int(20)).toString('base64')]);
  let body = '';
  if (rng.chance(0.3)) {
    body = rng.bytes(rng.int(300)).toString('base64');
    if (rng.chance(0.5)) {
      headers.push(['Transfer-Encoding', 'chunked']);
      body = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    } else headers.push(['Content-Length', String(body.length)]);
  }
  headers.push(['Connection', 'close']);
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}

/** Bytes that are not a well-framed HTTP/1.1 request: broken framing, other protocols, noise. */
export function malformedHttp(rng: Rng): Buffer {
  const good = httpRequest(rng);
  const forms: (() => Buffer | string)[] = [
    () => good.replace(/\r\n/g, '\n'),
    () => good.replace('HTTP/1.1', rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/1', 'http/1.1', 'HTTP/1.1 x'])),
    () => good.replace('Host: ', 'Host : '),
    () => good.replace('\r\n', `\r\n${'X-Many: y\r\n'.repeat(60 + rng.int(200))}`),
    () => good.replace('Host: x', `Host: x${rng.pick(['\0', '\x7f', '\x01'])}`),
    () => good.replace(/^(\S+) \S+/, `$1 /w${rng.pick(['\0', ' ', '\t'])}s`),
    () => good.slice(0, rng.int(good.length)),
    () => `${good.split(' ')[0].toLowerCase()} /ws HTTP/1.1\r\nHost: x\r\n\r\n`,
    () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    () => Buffer.concat([Buffer.from('16030100a5010000a10303', 'hex'), rng.bytes(rng.int(200))]),
    () => `GET /ws HTTP/1.1\r\nX: ${'a'.repeat(5000 + rng.int(20000))}\r\n\r\n`,
    () => 'POST /publish?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    () => 'POST /publish?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    () => 'POST /publish?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    () => rng.bytes(1 + rng.int(400)),
  ];
  const made = rng.pick(forms)();
  return Buffer.isBuffer(made) ? made : Buffer.from(made, 'latin1');
}
