/** Checks of a WebSocket opening handshake (RFC 6455 4.2.1) that uWS leaves to the application. */

/** True when a comma-separated header value lists `token` (case-insensitive), e.g. Connection: keep-alive, Upgrade. */
function listsToken(header: string, token: string): boolean {
  // Nearly every client sends the bare token: no split, no allocation on the upgrade path.
  if (header.length === token.length) return header.toLowerCase() === token;
  return header.split(',').some((part) => part.trim().toLowerCase() === token);
}

/**
 * uWS routes any GET with a Sec-WebSocket-Key to the upgrade handler, also without
 * `Upgrade: websocket` (or with `Upgrade: h2c`); such a request is not a WebSocket
 * handshake and must get 426, not 101.
 */
export function isWebSocketUpgrade(upgrade: string, connection: string): boolean {
  return listsToken(upgrade, 'websocket') && listsToken(connection, 'upgrade');
}

const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** Sec-WebSocket-Key must be 16 random bytes in base64. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}
