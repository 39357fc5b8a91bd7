/**
 * Every close code herald sends, in one table. Codes below 4500 (and 1001)
 * mean "reconnect, with backoff and jitter"; 4500 and up mean "do not reconnect
 * unchanged": the client must change something first.
 *
 * Not in the table, because no close frame is sent (clients report 1006):
 * uWebSockets.js drops the connection on a network error, an idle timeout
 * (liveness.idleTimeoutSeconds), a frame over the 64 KiB hard limit, and any
 * protocol error (text that is not UTF-8, a reserved opcode or RSV bit, a stray
 * continuation, a fragmented, oversized or long-form control frame); a worker
 * that dies drops its connections the same way.
 */
export const CloseCode = {
  /** Server shutting down or worker draining: reconnect after a short random delay. */
  GOING_AWAY: 1001,
  /** The client sent a frame larger than clientFrames.maxBytes. Frames over 64 KiB are dropped without a close frame (1006). */
  MESSAGE_TOO_BIG: 1009,
  /** Herald hit a bug while handling this connection (logged); reconnect with backoff. */
  INTERNAL_ERROR: 1011,
  /** Rolling restart: this worker is being replaced; reconnect now (another worker accepts). */
  RECONNECT: 4000,
  /** The send buffer passed slowConsumer.maxBufferedBytes under the "close" policy; reconnect. */
  SLOW_CONSUMER: 4002,
  /** Reading history for ?since= failed (Redis error), or the topic's seqs went back meanwhile (Redis lost writes); reconnect with the same position. */
  RECOVERY_FAILED: 4003,
  /** The client sent more than clientFrames.maxPerWindow messages per window. Do not reconnect unchanged. */
  CLIENT_FLOOD: 4400,
  /** The connection's JWT passed its exp (auth.expiry "enforce"). Do not reconnect with the same token: get a fresh one first. */
  TOKEN_EXPIRED: 4501,
  /** The server disconnected the connection's user (admin POST /disconnect: logout, ban). Do not reconnect unchanged: the application decides. */
  DISCONNECTED: 4502,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

export const CLOSE_CODE_DOCS: Record<CloseCodeName, { reconnect: boolean; reason: string }> = {
  GOING_AWAY: { reconnect: true, reason: 'server shutting down' },
  MESSAGE_TOO_BIG: { reconnect: false, reason: 'client frame too large' },
  INTERNAL_ERROR: { reconnect: true, reason: 'internal error' },
  RECONNECT: { reconnect: true, reason: 'worker restarting, reconnect' },
  SLOW_CONSUMER: { reconnect: true, reason: 'slow consumer' },
  RECOVERY_FAILED: { reconnect: true, reason: 'recovery failed, reconnect' },
  CLIENT_FLOOD: { reconnect: false, reason: 'too many client messages' },
  TOKEN_EXPIRED: { reconnect: false, reason: 'token expired' },
  DISCONNECTED: { reconnect: false, reason: 'disconnected by the server' },
};
