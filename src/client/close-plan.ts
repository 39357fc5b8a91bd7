import { CLOSE_CODE_DOCS, CloseCode, type CloseCodeName } from '../protocol/close-codes.js';

/**
 * What a close code asks of a client, from herald's own table
 * (src/protocol/close-codes.ts): reconnect soon (4000, rolling restart), with
 * backoff, or stop. 4501 needs a fresh token, which only a token function
 * gives. Codes herald does not send: below 4500 reconnect, from 4500 stop.
 */
export function closePlan(code: number, canRenewToken: boolean): 'soon' | 'backoff' | 'stop' {
  if (code === CloseCode.TOKEN_EXPIRED) return canRenewToken ? 'soon' : 'stop';
  if (code === CloseCode.RECONNECT) return 'soon';
  const name = (Object.keys(CloseCode) as CloseCodeName[]).find((n) => CloseCode[n] === code);
  if (name) return CLOSE_CODE_DOCS[name].reconnect ? 'backoff' : 'stop';
  return code >= 4500 ? 'stop' : 'backoff';
}
