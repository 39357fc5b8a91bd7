import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AddressSet, normalizeIp, parseForwardedAddress } from '../net/ip-address';
import type { Refusal } from './admission';

/**
 * Which address a connection is counted and logged under. Behind a load
 * balancer every socket's peer is the balancer; the client's own address
 * comes from the PROXY protocol header or X-Forwarded-For, and both are
 * believed only when the socket's peer is a configured trusted proxy: anyone
 * can write either.
 */

export interface ClientAddressSettings {
  trusted: AddressSet;
  /** Trusted peers put a PROXY protocol v2 header before their requests. */
  proxyProtocol: boolean;
}

/** What one upgrade says about where it comes from, read while uWS's request is valid. */
export interface AddressFacts {
  /** The socket's peer, canonical (normalizeIp). */
  peer: string;
  /** The address in the PROXY v2 header, as uWS reports it ('' without one). */
  proxied: string;
  /** Every X-Forwarded-For header, in order, joined with commas; read only when the peer is trusted. */
  forwardedFor: () => string;
}

export const MISSING_PROXY_HEADER: Refusal = {
  status: '400 Bad Request',
  reason: 'expected a PROXY protocol v2 header from this proxy (proxies.proxyProtocol is on)',
  label: 'proxy_header_missing',
};

/**
 * The client's address: the peer's, unless the peer is trusted. From a trusted
 * peer, the chain is walked from the right (nearest hop first): the PROXY
 * header's address (when proxyProtocol is on), then X-Forwarded-For entries,
 * right to left, for as long as the address reached is itself trusted. Entries
 * left of the first untrusted address were written by the client and are never
 * read; an entry that is not an address stops the walk at the last trusted hop.
 */
export function resolveClientAddress(facts: AddressFacts, settings: ClientAddressSettings): { ip: string } | { refusal: Refusal } {
  const { trusted } = settings;
  let current = facts.peer;
  if (!trusted.has(current)) return { ip: current };
  if (settings.proxyProtocol) {
    // uWS reports the same empty address for no header and for a v2 LOCAL header (the proxy's own
    // health check); a proxy configured to send PROXY headers sends one before every client it relays.
    const proxied = normalizeIp(facts.proxied);
    if (proxied === undefined) return { refusal: MISSING_PROXY_HEADER };
    current = proxied;
    if (!trusted.has(current)) return { ip: current };
  }
  const hops = facts.forwardedFor().split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    if (hops[i].trim() === '') continue;
    const hop = parseForwardedAddress(hops[i]);
    if (hop === undefined) return { ip: current };
    current = hop;
    if (!trusted.has(current)) return { ip: current };
  }
  return { ip: current };
}

/** The socket's peer address, canonical. */
export function peerAddress(res: HttpResponse): string {
  const text = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  return normalizeIp(text) ?? text;
}

/** Every X-Forwarded-For header of the request (uWS's getHeader returns only the first). */
function forwardedFor(req: HttpRequest): string {
  let joined = '';
  req.forEach((name, value) => {
    if (name === 'x-forwarded-for') joined = joined === '' ? value : `${joined},${value}`;
  });
  return joined;
}

/** resolveClientAddress over a uWS request; also says whether the address differs from the socket's peer. */
export function readClientAddress(res: HttpResponse, req: HttpRequest, settings: ClientAddressSettings): { ip: string; viaProxy: boolean } | { refusal: Refusal } {
  const peer = peerAddress(res);
  if (settings.trusted.size === 0) return { ip: peer, viaProxy: false };
  const proxied = settings.proxyProtocol ? Buffer.from(res.getProxiedRemoteAddressAsText()).toString('latin1') : '';
  const resolved = resolveClientAddress({ peer, proxied, forwardedFor: () => forwardedFor(req) }, settings);
  return 'refusal' in resolved ? resolved : { ip: resolved.ip, viaProxy: resolved.ip !== peer };
}
