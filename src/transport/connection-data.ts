import type { WebSocket } from 'uWebSockets.js';
import type { AuthData } from '../auth/connection-auth';
import { normalizeIp } from '../net/ip-address';
import type { EnvelopeSession } from '../protocol/recovery-query';

/** What a connection carries from upgrade to open (uWS user data). */
export interface ConnectionData extends AuthData {
  topics?: readonly string[];
  /** Set for ?format=envelope connections (and their ?since= positions). */
  session?: EnvelopeSession;
  /** The client's address, only when a trusted proxy gave one other than the socket's peer. */
  ip?: string;
}

export type Connection = WebSocket<ConnectionData>;

/**
 * uWS.js copies every property of the upgrade's user data onto the socket's own JS object,
 * so a connection with nothing to carry gets an object with no properties: measured, a
 * one-property object costs about 40 B of heap and 160 B of RSS per connection.
 */
export const NOTHING_TO_CARRY: ConnectionData = Object.freeze({});

/** Something that keeps per-connection state: told of every connection when it opens and closes. */
export interface ConnectionObserver {
  opened(ws: Connection): void;
  closed(ws: Connection): void;
}

/** The address a connection is counted and logged under: the client's behind a trusted proxy, else the socket's peer. */
export function connectionAddress(ws: Connection): string {
  const carried = ws.getUserData().ip;
  if (carried !== undefined) return carried;
  const text = Buffer.from(ws.getRemoteAddressAsText()).toString('latin1');
  return normalizeIp(text) ?? text;
}
