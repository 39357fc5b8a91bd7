/**
 * How herald is told where Redis is: the mode, and node addresses as the
 * configuration lists them (redis.nodes): "host:port", IPv6 hosts in brackets
 * ("[::1]:7000"). Pure, so the config schema validates with the same rules the
 * connections use.
 */

export const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

export interface NodeAddress {
  host: string;
  port: number;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

/** The address, or a reason it is not one. */
export function parseNodeAddress(text: string): NodeAddress | string {
  const at = text.lastIndexOf(':');
  if (at <= 0) return `"${text}" must be host:port`;
  const host = text.slice(0, at);
  const portText = text.slice(at + 1);
  if (!HOST.test(host)) return `"${text}": "${host}" is not a host name or address (IPv6 goes in brackets)`;
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return `"${text}": the port must be 1 to 65535`;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** "a:1, b:2" (the environment form) as a list; a list is kept as it is. */
export function splitNodeList(value: unknown): unknown {
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
}

/** Throws the reason when `value` is not a list of host:port strings (convict validator). */
export function validateNodeList(value: unknown): void {
  if (!Array.isArray(value)) throw new Error('must be a list of host:port, or "host:port,host:port" in the environment');
  for (const entry of value) {
    if (typeof entry !== 'string') throw new Error('must be a list of host:port strings');
    const parsed = parseNodeAddress(entry);
    if (typeof parsed === 'string') throw new Error(parsed);
  }
}
