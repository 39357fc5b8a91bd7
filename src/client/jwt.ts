import { base64ToBytes, utf8 } from './encoding.js';

/** What the client reads of its own token, unverified: the server checks it; the client only schedules refreshes. */
export interface TokenClaims {
  sub?: string;
  /** Seconds since the epoch. */
  exp?: number;
}

/** The sub and exp claims of a JWT; empty when the token is not a readable JWT. */
export function readClaims(token: string): TokenClaims {
  try {
    const payload = JSON.parse(utf8(base64ToBytes(token.split('.')[1] ?? ''))) as Record<string, unknown>;
    return {
      sub: typeof payload.sub === 'string' ? payload.sub : undefined,
      exp: typeof payload.exp === 'number' ? payload.exp : undefined,
    };
  } catch {
    return {};
  }
}
