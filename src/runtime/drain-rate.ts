/**
 * How fast a draining worker closes its connections: spread over `windowSeconds`
 * so that clients reconnect gradually, but never faster than `maxPerSecond`
 * (a window of 0 means "as fast as maxPerSecond allows").
 */
export function drainRate(connections: number, windowSeconds: number, maxPerSecond: number): number {
  if (windowSeconds <= 0) return maxPerSecond;
  return Math.min(maxPerSecond, Math.max(1, Math.ceil(connections / windowSeconds)));
}
