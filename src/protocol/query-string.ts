/**
 * Strict parsing of request targets and query strings, shared by the gateway and the admin server.
 * Lenient decoders (WHATWG URL, URLSearchParams, uWS getQuery) keep or drop a bad escape silently;
 * a client must instead be told its request is malformed, never served something it did not ask for.
 */

export type QueryResult = { ok: true; params: Map<string, string> } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Decodes one form-encoded component; undefined for a bad %-escape or bytes that are not UTF-8. */
export function decodeComponent(raw: string): string | undefined {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  const input = Buffer.from(raw.replace(/\+/g, ' '), 'utf8');
  const bytes = Buffer.alloc(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== 0x25) {
      bytes[n++] = input[i];
      continue;
    }
    const hex = input.toString('latin1', i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    bytes[n++] = parseInt(hex, 16);
    i += 2;
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

/**
 * Parses "a=1&b=2". A bad escape fails the whole query, and so does a parameter
 * named in `single` that appears twice (the second value would otherwise be
 * ignored). Empty pieces ("a=1&&b=2") are skipped.
 */
const NO_PARAMS: QueryResult = Object.freeze({ ok: true, params: new Map<string, string>() });

export function parseQuery(raw: string, single: readonly string[] = []): QueryResult {
  // Most upgrades carry no query: one shared (never written) empty result.
  if (raw === '') return NO_PARAMS;
  const params = new Map<string, string>();
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = decodeComponent(eq < 0 ? piece : piece.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : piece.slice(eq + 1));
    if (name === undefined || value === undefined) {
      return { ok: false, reason: `malformed query parameter "${piece.slice(0, 60)}": bad %-escape or not UTF-8` };
    }
    if (params.has(name) && single.includes(name)) return { ok: false, reason: `query parameter "${name}" given more than once` };
    if (!params.has(name)) params.set(name, value);
  }
  return { ok: true, params };
}

export type TargetResult = { ok: true; path: string; params: Map<string, string> } | { ok: false; reason: string };

/**
 * Splits an HTTP request target (origin form "/path?query", or absolute form
 * "http://host/path?query") into its path and its strictly decoded query.
 * Never throws: anything else is a reason to answer 400.
 */
export function parseRequestTarget(target: string, single: readonly string[] = []): TargetResult {
  let rest = target;
  if (!rest.startsWith('/')) {
    // Absolute form: a host name or IP literal, and a port of 1 to 5 digits at most.
    const absolute = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?=[/?]|$)/i.exec(rest);
    if (!absolute) return { ok: false, reason: 'request target must be /path or http://host[:port]/path' };
    rest = rest.slice(absolute[0].length) || '/';
    if (rest.startsWith('?')) rest = `/${rest}`;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const rawPath = q < 0 ? rest : rest.slice(0, q);
  const path = decodeComponent(rawPath.replace(/\+/g, '%2B'));
  if (path === undefined) return { ok: false, reason: 'malformed request path: bad %-escape or not UTF-8' };
  const query = parseQuery(q < 0 ? '' : rest.slice(q + 1), single);
  if (!query.ok) return query;
  return { ok: true, path, params: query.params };
}
