import { BROADCAST_TOPIC, isValidTopic } from './topics';

/** Per-connection state of an envelope-mode connection (lives in the uWS user data). */
export interface EnvelopeSession {
  /** Topic -> last seq the client saw, from ?since=. */
  readonly since: ReadonlyMap<string, number>;
  closed: boolean;
}

const NO_POSITIONS: ReadonlyMap<string, number> = new Map();

export type RecoveryQuery = { ok: true; session?: EnvelopeSession } | { ok: false; reason: string };

/**
 * Parses ?format= and ?since= at upgrade (synchronously, as uWS requires).
 * since=broadcast:1234,user:42:17 - the seq follows the LAST ':' since topic
 * names may contain ':'. Every since topic must be one the connection listens to.
 */
export function parseRecoveryQuery(format: string, since: string, topics: readonly string[]): RecoveryQuery {
  if (format !== '' && format !== 'raw' && format !== 'envelope') return { ok: false, reason: 'format must be raw or envelope' };
  if (format !== 'envelope') {
    return since === '' ? { ok: true } : { ok: false, reason: 'since needs format=envelope (positions are seqs, which only envelopes carry)' };
  }
  const positions = new Map<string, number>();
  for (const part of since === '' ? [] : since.split(',')) {
    const cut = part.lastIndexOf(':');
    const topic = part.slice(0, cut);
    const seq = part.slice(cut + 1);
    if (cut < 1 || !isValidTopic(topic) || !/^\d{1,15}$/.test(seq)) return { ok: false, reason: `since entry "${part.slice(0, 60)}" must be topic:seq` };
    if (topic !== BROADCAST_TOPIC && !topics.includes(topic)) return { ok: false, reason: `since names topic "${topic}" which is not in topics` };
    positions.set(topic, Number(seq));
  }
  // Most envelope connections resume nothing: they share one empty map rather than carry their own.
  return { ok: true, session: { since: positions.size > 0 ? positions : NO_POSITIONS, closed: false } };
}

