import { tokenFromRequest } from '../auth/token-source';
import { parseQuery } from '../protocol/query-string';
import { parseRecoveryQuery, type EnvelopeSession } from '../protocol/recovery-query';
import { parseTopicList } from '../protocol/topics';
import { isValidKey, isWebSocketUpgrade } from './handshake';

/**
 * Whether an upgrade is let in, decided from plain facts: no socket, no uWS
 * object, so every rule is tested in memory. The gateway reads the facts from
 * the request, asks here, and answers; after an asynchronous token check it
 * asks checkLoad() again, since the worker may have filled up or begun to
 * drain meanwhile.
 */

/** An answer other than 101: status line, body and the refusal counter's label. */
export interface Refusal {
  status: string;
  reason: string;
  label: string;
  headers?: Record<string, string>;
}

/** The worker's state as far as admission cares. */
export interface GatewayLoad {
  draining: boolean;
  connections: number;
  capacity: number;
}

/** The handshake facts of one upgrade request, read while uWS's request object is valid. */
export interface UpgradeFacts {
  upgrade: string;
  connection: string;
  key: string;
  version: string;
  /** The raw query string, undecoded. */
  query: string;
  protocol: string;
}

export interface Admitted {
  topics: string[];
  session?: EnvelopeSession;
  /** The JWT from ?token= or Sec-WebSocket-Protocol ('' when none). */
  token: string;
  /** The Sec-WebSocket-Protocol to answer with. */
  protocol: string;
}

/** Query parameters herald reads; each may appear once (a second value would be ignored silently). */
const QUERY_PARAMS = ['topics', 'format', 'since', 'token'];
export const UPGRADE_REQUIRED = { Upgrade: 'websocket', Connection: 'Upgrade' };

export function checkLoad(load: GatewayLoad): Refusal | undefined {
  if (load.draining) return { status: '503 Service Unavailable', reason: 'server is shutting down', label: 'draining' };
  if (load.connections >= load.capacity) return { status: '503 Service Unavailable', reason: 'worker at capacity, retry later', label: 'capacity' };
  return undefined;
}

const refusal = (status: string, reason: string, label: string, headers?: Record<string, string>): { ok: false; refusal: Refusal } => ({
  ok: false,
  refusal: headers ? { status, reason, label, headers } : { status, reason, label },
});

/** The handshake and query checks, in the order clients see them. */
export function admitRequest(facts: UpgradeFacts, maxTopics: number): { ok: true; admitted: Admitted } | { ok: false; refusal: Refusal } {
  if (!isWebSocketUpgrade(facts.upgrade, facts.connection)) {
    return refusal('426 Upgrade Required', 'not a WebSocket handshake: it needs Upgrade: websocket and Connection: Upgrade', 'bad_request', UPGRADE_REQUIRED);
  }
  if (!isValidKey(facts.key)) return refusal('400 Bad Request', 'missing or malformed Sec-WebSocket-Key', 'bad_request');
  if (facts.version !== '13') {
    return refusal('426 Upgrade Required', 'unsupported Sec-WebSocket-Version, use 13', 'bad_request', { 'Sec-WebSocket-Version': '13' });
  }
  const query = parseQuery(facts.query, QUERY_PARAMS);
  if (!query.ok) return refusal('400 Bad Request', query.reason, 'bad_request');
  const params = query.params;
  const topics = parseTopicList(params.get('topics') ?? '', maxTopics);
  if (!topics.ok) return refusal('400 Bad Request', topics.reason, 'bad_topics');
  const recovery = parseRecoveryQuery(params.get('format') ?? '', params.get('since') ?? '', topics.topics);
  if (!recovery.ok) return refusal('400 Bad Request', recovery.reason, 'bad_recovery');
  const { token, protocol } = tokenFromRequest(params.get('token') ?? '', facts.protocol);
  return { ok: true, admitted: { topics: topics.topics, session: recovery.session, token, protocol } };
}
