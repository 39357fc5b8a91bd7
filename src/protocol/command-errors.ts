/**
 * Every error a command can get, in one table: the `code` of a reply
 * `{"type":"reply","id":1,"ok":false,"error":{"code":...,"message":...}}`.
 * The message says what was wrong in this instance; the code is what a client
 * acts on. `retry` tells whether sending the same command again later can
 * succeed without changing anything (only after a wait: rate_limited carries
 * `retryAfterMs`). The README's table is rendered from this one
 * (`node dist/scripts/protocol-reference.js --write`).
 */
export const CommandErrorCode = {
  /** The frame is not a JSON object in a text frame. */
  BAD_FRAME: 'bad_frame',
  /** A field is missing, has the wrong type or is unknown; or `op` is not subscribe, unsubscribe or refresh. */
  BAD_COMMAND: 'bad_command',
  /** The topic name is not 1 to 128 characters of [A-Za-z0-9_.:-]. */
  BAD_TOPIC: 'bad_topic',
  /** The token's topics claim (or a per-topic token) does not allow the topic, or the topic is implicit (broadcast, user:<sub>). */
  FORBIDDEN: 'forbidden',
  /** The connection already holds topics.maxPerConnection topics. */
  TOO_MANY_TOPICS: 'too_many_topics',
  /** The connection already holds (or is joining) the topic; nothing changed. */
  ALREADY_SUBSCRIBED: 'already_subscribed',
  /** The connection does not hold the topic; nothing changed. */
  NOT_SUBSCRIBED: 'not_subscribed',
  /** The token is malformed, its signature or a claim is wrong, or no key matches it. */
  TOKEN_INVALID: 'token_invalid',
  /** The token's exp has passed. */
  TOKEN_EXPIRED: 'token_expired',
  /** The token is for another sub than the connection's. */
  WRONG_USER: 'wrong_user',
  /** refresh on a herald without auth (auth.enabled false): there is no token to refresh. */
  AUTH_DISABLED: 'auth_disabled',
  /** The connection's command budget (commands.burst, refilled at commands.perSecond) is spent. */
  RATE_LIMITED: 'rate_limited',
  /** The broker did not confirm the subscription in time (Redis unreachable); nothing changed. */
  UNAVAILABLE: 'unavailable',
  /** Herald failed while handling the command (logged). */
  INTERNAL_ERROR: 'internal_error',
} as const;

export type CommandErrorName = keyof typeof CommandErrorCode;
export type CommandErrorCodeValue = (typeof CommandErrorCode)[CommandErrorName];

export const COMMAND_ERROR_DOCS: Record<CommandErrorName, { retry: string; meaning: string }> = {
  BAD_FRAME: { retry: 'no', meaning: 'the frame is not a JSON object in a text frame' },
  BAD_COMMAND: { retry: 'no', meaning: 'a field is missing, has the wrong type or is unknown, or `op` is not `subscribe`, `unsubscribe` or `refresh`' },
  BAD_TOPIC: { retry: 'no', meaning: 'the topic is not 1 to 128 characters of `[A-Za-z0-9_.:-]`' },
  FORBIDDEN: { retry: 'no', meaning: "the token's `topics` claim (or the per-topic `token`) does not allow the topic, or the topic is implicit (`broadcast`, the connection's own `user:<sub>`)" },
  TOO_MANY_TOPICS: { retry: 'after an unsubscribe', meaning: 'the connection already holds `topics.maxPerConnection` topics (`broadcast` and `user:<sub>` not counted)' },
  ALREADY_SUBSCRIBED: { retry: 'no need', meaning: 'the connection already holds or is joining the topic; nothing changed' },
  NOT_SUBSCRIBED: { retry: 'no need', meaning: 'the connection does not hold the topic; nothing changed' },
  TOKEN_INVALID: { retry: 'no', meaning: 'the token is malformed, its signature or a claim is wrong, or no key matches it (the message says which)' },
  TOKEN_EXPIRED: { retry: 'with a fresh token', meaning: "the token's `exp` has passed" },
  WRONG_USER: { retry: 'no', meaning: "the token's `sub` is not the connection's" },
  AUTH_DISABLED: { retry: 'no', meaning: '`refresh` on a herald without auth: there is no token to refresh' },
  RATE_LIMITED: { retry: 'after `retryAfterMs`', meaning: "the connection's command budget is spent (`commands.burst`, refilled at `commands.perSecond`); the frame also counted toward `clientFrames.maxPerWindow`" },
  UNAVAILABLE: { retry: 'yes, with backoff', meaning: 'the broker did not confirm the subscription within 5 s (Redis unreachable); nothing changed' },
  INTERNAL_ERROR: { retry: 'yes, with backoff', meaning: 'herald failed while handling the command (logged)' },
};
