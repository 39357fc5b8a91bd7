import net from 'node:net';

/**
 * IP addresses as herald keys and logs them: one canonical text per address,
 * whatever form it came in. uWS prints IPv6 peers in full
 * ("0000:0000:0000:0000:0000:0000:0000:0001") and IPv4 peers of a dual-stack
 * socket as mapped IPv6 ("0000:...:ffff:7f00:0001"), proxies write
 * "[2001:db8::1]" or "203.0.113.7:51234"; counted under different texts, one
 * client would get a per-IP allowance per spelling.
 */

/** The canonical text of an address (dotted IPv4, RFC 5952 IPv6, IPv4-mapped IPv6 as IPv4), or undefined when it is none. */
export function normalizeIp(text: string): string | undefined {
  if (!text.includes(':')) return net.isIPv4(text) ? text : undefined;
  if (text.includes('%')) return undefined; // a zone (fe80::1%eth0) names a local link, never a client
  const groups = parseIpv6(text);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join('.');
  }
  return formatIpv6(groups);
}

/**
 * An address as written in an X-Forwarded-For entry: bare, "[v6]", "[v6]:port" or
 * "v4:port" (Azure and some CDNs add the port). Undefined when it is not an address.
 */
export function parseForwardedAddress(entry: string): string | undefined {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return normalizeIp(bracketed[1]);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  return normalizeIp(v4port ? v4port[1] : text);
}

/** Eight 16-bit groups, or undefined. Accepts "::" compression and a trailing dotted IPv4. */
function parseIpv6(text: string): number[] | undefined {
  if (!net.isIPv6(text)) return undefined;
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (dotted) {
    const b = dotted[1].split('.').map(Number);
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    head = head.slice(0, -dotted[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const hex = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const l = hex(left);
  const r = right === undefined ? [] : hex(right);
  const missing = 8 - l.length - r.length - tail.length;
  if (missing < 0 || (right === undefined && missing !== 0)) return undefined;
  return [...l, ...new Array<number>(missing).fill(0), ...r, ...tail];
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups (the first on a tie) as "::". */
function formatIpv6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** One entry of a trusted-proxy list: an address or a CIDR block. */
export interface AddressRule {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses "10.0.0.0/8", "192.0.2.1", "2001:db8::/32" or "::1"; throws with the reason otherwise. */
export function parseAddressRule(spec: string): AddressRule {
  const [addressText, prefixText, extra] = spec.trim().split('/');
  const address = normalizeIp(addressText ?? '');
  if (extra !== undefined || address === undefined) throw new Error(`"${spec}" is not an IPv4 or IPv6 address or CIDR block`);
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  const max = family === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max) throw new Error(`"${spec}": the prefix length must be 0 to ${max}`);
  return { address, prefix, family };
}

/** A set of addresses and CIDR blocks (IPv4 rules also match IPv4-mapped IPv6, through normalizeIp). */
export class AddressSet {
  private readonly list = new net.BlockList();
  readonly size: number;

  constructor(specs: readonly string[]) {
    for (const spec of specs) {
      const rule = parseAddressRule(spec);
      this.list.addSubnet(rule.address, rule.prefix, rule.family);
    }
    this.size = specs.length;
  }

  /** `ip` must be canonical (normalizeIp). */
  has(ip: string): boolean {
    return this.size > 0 && this.list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
  }
}
