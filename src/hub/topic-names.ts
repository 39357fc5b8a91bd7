/**
 * Internal uWS topic names. A client topic may be held through several uWS
 * topics: raw sockets subscribe to the topic itself, envelope sockets to its
 * envelope topic, and a socket recovering the topic holds its hold topic (so
 * the worker stays subscribed in the broker while nothing is published to it).
 * NUL cannot occur in a client topic name, so these never collide with one.
 */

export function envelopeTopic(topic: string): string {
  return `\u0000env:${topic}`;
}

export function holdTopic(topic: string): string {
  return `\u0000hold:${topic}`;
}

/** The client topic behind an internal uWS topic name (or the name itself). */
export function baseTopic(uwsTopic: string): string {
  if (uwsTopic.charCodeAt(0) !== 0) return uwsTopic;
  return uwsTopic.slice(uwsTopic.indexOf(':') + 1);
}
