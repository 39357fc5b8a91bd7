/**
 * The `topics` claim: which requested topics a connection may join.
 *
 * A pattern is a topic name, or a prefix ending in `*` (`room:42:*` matches
 * `room:42:chat`). Per-user topics are private: `user:<sub>` is always the
 * connection's own, and another user's topic is reachable only through a
 * pattern that itself starts with `user:`, so a broad `*` never leaks them.
 */
export const USER_TOPIC_PREFIX = 'user:';

export function userTopic(sub: string): string {
  return USER_TOPIC_PREFIX + sub;
}

function matches(pattern: string, topic: string): boolean {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    if (topic.startsWith(USER_TOPIC_PREFIX) && !prefix.startsWith(USER_TOPIC_PREFIX)) return false;
    return topic.startsWith(prefix);
  }
  return pattern === topic;
}

/**
 * Whether a connection of user `sub` with claim `patterns` may join `topic`.
 * Without a claim every topic except other users' is allowed.
 */
export function topicAllowed(patterns: readonly string[] | undefined, topic: string, sub: string): boolean {
  if (topic === userTopic(sub)) return true;
  if (patterns === undefined) return !topic.startsWith(USER_TOPIC_PREFIX);
  return patterns.some((p) => matches(p, topic));
}

/** The first requested topic the claim does not allow, or undefined when all are allowed. */
export function firstForbiddenTopic(patterns: readonly string[] | undefined, requested: readonly string[], sub: string): string | undefined {
  return requested.find((topic) => !topicAllowed(patterns, topic, sub));
}

/** Claim lists seen so far: connections with the same claim share one frozen array. */
const interned = new Map<string, readonly string[]>();
const MAX_INTERNED = 10_000;

/**
 * The claim as a shared, frozen list. Connections keep their claim for later
 * subscribe commands, and most of them carry one of a few lists; sharing saves
 * an array per connection. Past MAX_INTERNED distinct lists the rest are kept
 * as they are.
 */
export function internClaims(topics: readonly string[] | undefined): readonly string[] | undefined {
  if (topics === undefined) return undefined;
  const key = JSON.stringify(topics);
  const hit = interned.get(key);
  if (hit) return hit;
  const frozen = Object.freeze([...topics]);
  if (interned.size < MAX_INTERNED) interned.set(key, frozen);
  return frozen;
}
