/** Reconnect quickly at first, then every 2 s: an outage must end by itself, never with a crash. */
export function redisRetryDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}
