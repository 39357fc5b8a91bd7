/**
 * Where a client's token comes from. Browsers cannot set headers on a
 * WebSocket, so besides `?token=` a token may be offered as one of the
 * subprotocols: `new WebSocket(url, ['herald', jwt])`. The server must echo
 * exactly one offered protocol back, and never the token when it can avoid it.
 */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface TokenSource {
  token: string;
  /** The Sec-WebSocket-Protocol value to send back in the 101 response ('' for none). */
  protocol: string;
}

const NO_TOKEN: TokenSource = Object.freeze({ token: '', protocol: '' });

export function tokenFromRequest(queryToken: string, protocolHeader: string): TokenSource {
  if (queryToken === '' && protocolHeader === '') return NO_TOKEN;
  const offered = protocolHeader.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const fromHeader = offered.find((p) => JWT_SHAPE.test(p));
  const others = offered.filter((p) => p !== fromHeader);
  const protocol = others[0] ?? fromHeader ?? '';
  // The query wins when both are given: it is the explicit one.
  return { token: queryToken !== '' ? queryToken : fromHeader ?? '', protocol };
}
